#include "router/channel_health.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"
#include "codec/text_checks.hpp"
#include "kafka/client.hpp"
#include "metrics/metrics.hpp"
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

std::string_view to_string(HealthUpdate u) {
    switch (u) {
        case HealthUpdate::apply: return "apply";
        case HealthUpdate::older: return "older";
        case HealthUpdate::from_future: return "from_future";
    }
    return "apply";
}

HealthUpdate judge_health_report(const ChannelHealth* current, const ChannelHealth& incoming, int64_t now_ms) {
    if (incoming.updated_at_ms > now_ms + kHealthFutureSkewMs) return HealthUpdate::from_future;
    if (current && current->updated_at_ms > incoming.updated_at_ms) return HealthUpdate::older;
    return HealthUpdate::apply;
}

HealthUpdate ChannelHealthTable::offer(const ChannelHealth& h, int64_t now_ms) {
    auto prev = current_.load();
    auto it = prev->find(h.channel);
    const auto verdict = judge_health_report(it == prev->end() ? nullptr : &it->second, h, now_ms);
    if (verdict == HealthUpdate::apply) put(h);
    if (verdict == HealthUpdate::from_future) {
        Metrics::get().health_reports_ignored.Add({{"reason", "from_future"}}).Increment();
        spdlog::warn("router: channels.health report of {} dated {} ms ahead of this clock ignored", h.channel,
                     h.updated_at_ms - now_ms);
    }
    return verdict;
}

void ChannelHealthTable::put(const ChannelHealth& h) {
    auto next = std::make_shared<HealthMap>(*current_.load());
    (*next)[h.channel] = h;
    current_.store(std::move(next));
}

void ChannelHealthTable::start() {
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
}

void ChannelHealthTable::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void ChannelHealthTable::run() {
    // No group: every router reads every partition, the whole topic, then follows it.
    kafka::HandlePtr c;
    try {
        c = kafka::make_consumer(cfg_, {{"group.id", cfg_.name_prefix + "turnout.health-reader"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"isolation.level", "read_committed"},
                                        {"fetch.wait.max.ms", "100"}});
        auto parts = kafka::partitions_of(c.get(), cfg_.topics.health);
        kafka::PartitionListPtr from(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
        for (int32_t p : parts)
            rd_kafka_topic_partition_list_add(from.get(), cfg_.topics.health.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (auto err = rd_kafka_assign(c.get(), from.get())) throw std::runtime_error(rd_kafka_err2str(err));
    } catch (const std::exception& e) {
        // Routing goes on without health: every channel counts as up.
        spdlog::warn("router: channel health table not available ({}); routing without channel health", e.what());
        return;
    }
    while (!stop_.load()) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(c.get(), 200));
        if (!m || m->err || !m->payload) continue;
        auto h = decode_channel_health({static_cast<const char*>(m->payload), m->len});
        if (!h) {
            Metrics::get().health_reports_ignored.Add({{"reason", "unreadable"}}).Increment();
            spdlog::warn("router: unreadable channels.health record at {}/{}", m->partition, m->offset);
            continue;
        }
        offer(*h, now_ms());
    }
    rd_kafka_consumer_close(c.get());
}

}  // namespace turnout
