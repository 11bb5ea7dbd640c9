#include "settlement/batch_log.hpp"

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"

namespace turnout {
namespace json = boost::json;

std::string encode_batch_log(const BatchLogEntry& e) {
    JsonWriter w(320);
    w.begin_object().field("op", e.op == BatchLogEntry::Op::add ? "add" : "close").field("channel", e.channel);
    w.field("currency", e.currency).field("window_start_ms", e.window_start_ms);
    if (e.op == BatchLogEntry::Op::add) {
        const auto& r = e.record;
        w.key("record").begin_object().field("payment_id", r.payment_id).field("type", to_string(r.type));
        w.field("merchant_id", r.merchant_id).field("amount", r.amount).field("channel_ref", r.channel_ref);
        w.field("event_time_ms", r.event_time_ms).field("fee", r.fee).end_object();
    }
    return w.end_object().take();
}

std::optional<BatchLogEntry> decode_batch_log(std::string_view bytes) {
    json::error_code ec;
    auto v = json::parse(bytes, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    using json_read::str;
    const auto num = [](const json::object& x, const char* k) { return json_read::int_of(x, k); };
    BatchLogEntry e;
    const auto op = str(o, "op");
    auto ws = num(o, "window_start_ms");
    e.channel = str(o, "channel");
    e.currency = str(o, "currency");
    if (!ws || e.channel.empty() || e.currency.empty()) return std::nullopt;
    e.window_start_ms = *ws;
    if (op == "close") {
        e.op = BatchLogEntry::Op::close;
        return e;
    }
    auto* rv = o.if_contains("record");
    if (op != "add" || !rv || !rv->is_object()) return std::nullopt;
    const auto& r = rv->get_object();
    auto type = parse_payment_type(str(r, "type"));
    auto amount = num(r, "amount");
    auto at = num(r, "event_time_ms");
    if (!type || !amount || !at) return std::nullopt;
    e.record = ClearingRecord{str(r, "payment_id"), *type, e.channel, str(r, "merchant_id"), e.currency,
                              *amount, str(r, "channel_ref"), *at, num(r, "fee").value_or(0)};
    return e;
}

}  // namespace turnout
