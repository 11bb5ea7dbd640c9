#include "codec/channel_health.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"
#include "codec/text_checks.hpp"
#include "model/time.hpp"

namespace turnout {

std::string_view to_string(ChannelHealth::Circuit c) {
    switch (c) {
        case ChannelHealth::Circuit::closed: return "closed";
        case ChannelHealth::Circuit::half_open: return "half_open";
        case ChannelHealth::Circuit::open: return "open";
    }
    return "closed";
}

std::string encode_channel_health(const ChannelHealth& h) {
    JsonWriter w(200);
    w.begin_object().field("channel", h.channel).field("circuit", to_string(h.circuit));
    w.field("success_rate_permille", int64_t{h.success_permille}).field("latency_ms", int64_t{h.latency_ms});
    w.field("calls", h.calls).field("updated_at", format_rfc3339(h.updated_at_ms));
    return w.end_object().take();
}

std::optional<ChannelHealth> decode_channel_health(std::string_view bytes) {
    boost::json::error_code ec;
    auto v = boost::json::parse(bytes, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    ChannelHealth h;
    h.channel = json_read::str(o, "channel");
    const auto circuit = json_read::str(o, "circuit");
    if (circuit == "closed") h.circuit = ChannelHealth::Circuit::closed;
    else if (circuit == "half_open") h.circuit = ChannelHealth::Circuit::half_open;
    else if (circuit == "open") h.circuit = ChannelHealth::Circuit::open;
    else return std::nullopt;
    h.success_permille = static_cast<int>(std::clamp<int64_t>(json_read::int_or(o, "success_rate_permille", 1000), 0, 1000));
    h.latency_ms = static_cast<int>(std::clamp<int64_t>(json_read::int_or(o, "latency_ms", 0), 0, 3'600'000));
    h.calls = json_read::int_or(o, "calls", 0);
    auto at = parse_rfc3339(json_read::str(o, "updated_at"));
    if (!text::is_channel_id(h.channel) || !at) return std::nullopt;
    h.updated_at_ms = *at;
    return h;
}

}  // namespace turnout
