#include "pending_book.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"
#include "codec/messages.hpp"
#include "model/time.hpp"

namespace turnout {

void PendingBook::count(const std::optional<PendingPayment>& before, const std::optional<PendingPayment>& after) {
    if (before && before->expired_ms != 0) --watched_;
    if (after && after->expired_ms != 0) ++watched_;
}

void PendingBook::add(const std::string& payment_id, PendingPayment p) {
    auto it = entries_.find(payment_id);
    std::optional<PendingPayment> before = it == entries_.end() ? std::nullopt : std::optional<PendingPayment>(it->second);
    count(before, p);
    journal_.emplace_back(payment_id, std::move(before));
    entries_.insert_or_assign(payment_id, std::move(p));
}

std::optional<PendingPayment> PendingBook::take(const std::string& payment_id) {
    auto it = entries_.find(payment_id);
    if (it == entries_.end()) return std::nullopt;
    journal_.emplace_back(payment_id, it->second);
    auto out = std::move(it->second);
    entries_.erase(it);
    count(out, std::nullopt);
    return out;
}

namespace {
std::vector<std::string> oldest(const std::unordered_map<std::string, PendingPayment>& entries, int64_t now_ms,
                                size_t limit, bool watched) {
    std::vector<std::pair<int64_t, std::string>> d;
    for (const auto& [id, e] : entries)
        if ((e.expired_ms != 0) == watched && e.next_query_ms <= now_ms) d.emplace_back(e.next_query_ms, id);
    std::sort(d.begin(), d.end());
    std::vector<std::string> out;
    for (size_t i = 0; i < d.size() && i < limit; ++i) out.push_back(std::move(d[i].second));
    return out;
}
}  // namespace

std::vector<std::string> PendingBook::due(int64_t now_ms, size_t limit) const { return oldest(entries_, now_ms, limit, false); }

std::vector<std::string> PendingBook::watch_ended(int64_t now_ms, size_t limit) const {
    return oldest(entries_, now_ms, limit, true);
}

const PendingPayment* PendingBook::find(const std::string& payment_id) const {
    auto it = entries_.find(payment_id);
    return it == entries_.end() ? nullptr : &it->second;
}

void PendingBook::reschedule(const std::string& payment_id, int64_t next_query_ms) {
    auto it = entries_.find(payment_id);
    if (it != entries_.end()) it->second.next_query_ms = next_query_ms;
}

void PendingBook::abort() {
    for (auto it = journal_.rbegin(); it != journal_.rend(); ++it) {
        auto cur = entries_.find(it->first);
        count(cur == entries_.end() ? std::nullopt : std::optional<PendingPayment>(cur->second), it->second);
        if (it->second)
            entries_.insert_or_assign(it->first, std::move(*it->second));
        else
            entries_.erase(it->first);
    }
    journal_.clear();
}

void PendingBook::drop_partition(int32_t partition) {
    std::erase_if(entries_, [&](const auto& kv) {
        if (kv.second.partition != partition) return false;
        if (kv.second.expired_ms != 0) --watched_;
        return true;
    });
}

std::string encode_pending(const PendingPayment& p, const std::string& channel) {
    JsonWriter w(128);
    w.begin_object().field("payment_id", p.payment.request.payment_id).field("root_id", p.payment.request.root_id());
    w.field("channel", channel).field("channel_ref", p.channel_ref).field("pending_since_ms", p.since_ms);
    w.field("pending_since", format_rfc3339(p.since_ms));
    if (!p.traceparent.empty()) w.field("traceparent", p.traceparent);
    if (p.expired_ms != 0) w.field("expired_at_ms", p.expired_ms).field("expired_at", format_rfc3339(p.expired_ms));
    std::string head = w.take();  // the object left open: the routed payment is spliced in as is
    return head + ",\"routed\":" + encode_routed(p.payment) + "}";
}

std::string pending_channel(std::string_view value) {
    boost::json::error_code ec;
    auto doc = boost::json::parse(value, ec);
    if (ec || !doc.is_object()) return {};
    const auto* c = doc.get_object().if_contains("channel");
    return c && c->is_string() ? std::string(c->get_string()) : std::string();
}

std::optional<PendingPayment> decode_pending(std::string_view value, int32_t partition, int64_t late_event_window_ms) {
    boost::system::error_code ec;
    auto v = boost::json::parse(value, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    const auto* routed = o.if_contains("routed");
    if (!routed || !routed->is_object()) return std::nullopt;
    auto p = decode_routed(boost::json::serialize(*routed));
    if (!p) return std::nullopt;
    PendingPayment out;
    out.payment = std::move(*p);
    out.partition = partition;
    out.since_ms = json_read::int_or(o, "pending_since_ms");
    out.channel_ref = json_read::str(o, "channel_ref");
    out.traceparent = json_read::str(o, "traceparent");
    out.expired_ms = json_read::int_or(o, "expired_at_ms");
    if (out.expired_ms != 0) out.next_query_ms = out.expired_ms + late_event_window_ms;
    return out;
}

std::string encode_channel_event(const ChannelEvent& e) {
    using K = ChannelOutcome::Kind;
    const auto& o = e.outcome;
    const char* status = o.kind == K::approved   ? "approved"
                         : o.kind == K::declined ? "declined"
                         : o.kind == K::reversed ? "reversed"
                                                 : "failed";
    JsonWriter w(256);
    w.begin_object().field("event_id", e.event_id).field("payment_id", e.payment_id).field("root_id", e.root_id);
    w.field("status", status).field("code", o.code).field("message", o.message);
    w.field("channel_ref", o.channel_ref).field("approval_code", o.approval_code);
    if (!e.origin.empty()) {
        w.field("origin", e.origin);
        w.key("origin_auth").begin_object();
        for (const auto& [k, v] : e.origin_auth) w.field(k, v);
        w.end_object();
    }
    w.end_object();
    return w.take();
}

std::optional<ChannelEvent> decode_channel_event(std::string_view value) {
    using K = ChannelOutcome::Kind;
    boost::system::error_code ec;
    auto v = boost::json::parse(value, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    ChannelEvent e;
    e.event_id = json_read::str(o, "event_id");
    e.payment_id = json_read::str(o, "payment_id");
    e.root_id = json_read::str(o, "root_id");
    const auto status = json_read::str(o, "status");
    e.outcome.kind = status == "approved"   ? K::approved
                     : status == "declined" ? K::declined
                     : status == "reversed" ? K::reversed
                                            : K::failed;
    e.outcome.code = json_read::str(o, "code");
    e.outcome.message = json_read::str(o, "message");
    e.outcome.channel_ref = json_read::str(o, "channel_ref");
    e.outcome.approval_code = json_read::str(o, "approval_code");
    e.origin = json_read::str(o, "origin");
    if (const auto* auth = json_read::obj(o, "origin_auth"))
        for (const auto& [k, v] : *auth)
            if (v.is_string()) e.origin_auth.emplace_back(std::string(k), std::string(v.get_string()));
    if (e.payment_id.empty()) return std::nullopt;
    return e;
}

}  // namespace turnout
