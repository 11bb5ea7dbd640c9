#include "settlement/batch_log.hpp"

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"
#include "codec/request_decoder.hpp"
#include "codec/text_checks.hpp"

namespace turnout {
namespace json = boost::json;

bool valid_clearing_record(const ClearingRecord& r) {
    const bool debit = r.type == PaymentType::sale || r.type == PaymentType::capture;
    const bool credit = r.type == PaymentType::refund;
    const uint64_t magnitude = r.amount < 0 ? 0 - static_cast<uint64_t>(r.amount) : static_cast<uint64_t>(r.amount);
    return valid_payment_id(r.payment_id) && text::is_channel_id(r.channel) && text::is_currency(r.currency) &&
           text::is_clean_text(r.merchant_id, 64, true) && text::is_clean_text(r.channel_ref, 128, true) &&
           ((debit && r.amount > 0) || (credit && r.amount < 0)) && magnitude <= static_cast<uint64_t>(kMaxAmountMinor) && r.fee >= 0 &&
           r.fee <= kMaxAmountMinor;
}

std::string encode_batch_log(const BatchLogEntry& e) {
    JsonWriter w(320);
    const char* op = e.op == BatchLogEntry::Op::add ? "add" : e.op == BatchLogEntry::Op::close ? "close" : "settled";
    w.begin_object().field("op", op).field("channel", e.channel);
    w.field("currency", e.currency).field("window_start_ms", e.window_start_ms);
    if (e.op != BatchLogEntry::Op::close) {
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
    // The changelog is read back, not trusted: its channel and currency name batches and files.
    if (!ws || !text::is_channel_id(e.channel) || !text::is_currency(e.currency)) return std::nullopt;
    e.window_start_ms = *ws;
    if (op == "close") {
        e.op = BatchLogEntry::Op::close;
        return e;
    }
    auto* rv = o.if_contains("record");
    if ((op != "add" && op != "settled") || !rv || !rv->is_object()) return std::nullopt;
    e.op = op == "add" ? BatchLogEntry::Op::add : BatchLogEntry::Op::settled;
    const auto& r = rv->get_object();
    auto type = parse_payment_type(str(r, "type"));
    auto amount = num(r, "amount");
    auto at = num(r, "event_time_ms");
    if (!type || !amount || !at) return std::nullopt;
    e.record = ClearingRecord{str(r, "payment_id"), *type, e.channel, str(r, "merchant_id"), e.currency,
                              *amount, str(r, "channel_ref"), *at, num(r, "fee").value_or(0)};
    if (!valid_clearing_record(e.record)) return std::nullopt;
    return e;
}

}  // namespace turnout
