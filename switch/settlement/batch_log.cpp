#include "settlement/batch_log.hpp"

#include <boost/json.hpp>

namespace turnout {
namespace json = boost::json;

std::string encode_batch_log(const BatchLogEntry& e) {
    json::object o{{"op", e.op == BatchLogEntry::Op::add ? "add" : "close"},
                   {"channel", e.channel},
                   {"currency", e.currency},
                   {"window_start_ms", e.window_start_ms}};
    if (e.op == BatchLogEntry::Op::add) {
        const auto& r = e.record;
        o["record"] = json::object{{"payment_id", r.payment_id},   {"type", to_string(r.type)},
                                   {"merchant_id", r.merchant_id}, {"amount", r.amount},
                                   {"channel_ref", r.channel_ref}, {"event_time_ms", r.event_time_ms},
                                   {"fee", r.fee}};
    }
    return json::serialize(o);
}

std::optional<BatchLogEntry> decode_batch_log(std::string_view bytes) {
    json::error_code ec;
    auto v = json::parse(bytes, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    auto str = [](const json::object& x, const char* k) -> std::string {
        auto* p = x.if_contains(k);
        return p && p->is_string() ? std::string(p->get_string()) : std::string();
    };
    auto num = [](const json::object& x, const char* k) -> std::optional<int64_t> {
        auto* p = x.if_contains(k);
        if (p && p->is_int64()) return p->get_int64();
        return std::nullopt;
    };
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
