#include "codec/messages.hpp"

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/message_parts.hpp"
#include "model/time.hpp"

namespace turnout {
namespace json = boost::json;

namespace {

using json_read::int_or;
using json_read::obj;
using json_read::str;

std::optional<Money> money_from(const json::object* o) {
    if (!o) return std::nullopt;
    auto* v = o->if_contains("value");
    if (!v || !v->is_int64()) return std::nullopt;
    return Money{v->get_int64(), str(*o, "currency")};
}

StageTimes times_from(const json::object* o) {
    StageTimes t;
    if (!o) return t;
    auto get = [&](const char* k) { return parse_rfc3339(str(*o, k)).value_or(0); };
    t.created_at = get("created_at");
    t.received_at = get("received_at");
    t.routed_at = get("routed_at");
    t.scored_at = get("scored_at");
    t.completed_at = get("completed_at");
    return t;
}

RoutePlan route_from(const json::object& o) {
    RoutePlan r;
    r.rule = str(o, "rule");
    if (auto* p = o.if_contains("plan"); p && p->is_array())
        for (const auto& c : p->get_array())
            if (c.is_string()) r.channels.emplace_back(c.get_string());
    if (auto* a = o.if_contains("attempts"); a && a->is_array())
        for (const auto& e : a->get_array())
            if (auto* eo = e.if_object()) r.attempts.push_back({str(*eo, "channel"), str(*eo, "outcome"), str(*eo, "reason")});
    r.action = str(o, "action");
    if (auto* s = o.if_contains("skipped"); s && s->is_array())
        for (const auto& c : s->get_array())
            if (c.is_string()) r.skipped.emplace_back(c.get_string());
    return r;
}

RiskAssessment risk_from(const json::object& o) {
    RiskAssessment r;
    r.score = static_cast<int>(int_or(o, "score"));
    r.decision = str(o, "decision");
    if (auto* a = o.if_contains("rules_hit"); a && a->is_array())
        for (const auto& h : a->get_array())
            if (h.is_string()) r.rules_hit.emplace_back(h.get_string());
    return r;
}

OriginalRef original_from(const json::object& o) {
    return {str(o, "payment_id"), str(o, "channel"), str(o, "channel_ref")};
}

template <typename T>
std::optional<json::value> parse_doc(std::string_view bytes, T& mr) {
    json::error_code ec;
    json::value v = json::parse(bytes, ec, &mr);
    if (ec || !v.is_object()) return std::nullopt;
    return v;
}

}  // namespace

namespace {
void write_times(JsonWriter& w, const StageTimes& t) {
    w.key("timestamps").begin_object();
    auto put = [&](const char* k, int64_t ms) {
        if (ms) w.field(k, format_rfc3339(ms));
    };
    put("created_at", t.created_at);
    put("received_at", t.received_at);
    put("routed_at", t.routed_at);
    put("scored_at", t.scored_at);
    put("completed_at", t.completed_at);
    w.end_object();
}

void write_route(JsonWriter& w, const RoutePlan& r) {
    w.key("route").begin_object().field("rule", r.rule).key("plan").begin_array();
    for (const auto& c : r.channels) w.value(c);
    w.end_array().key("attempts").begin_array();
    for (const auto& a : r.attempts)
        w.begin_object().field("channel", a.channel).field("outcome", a.outcome).field("reason", a.reason).end_object();
    w.end_array();
    w.optional_field("action", r.action);
    if (!r.skipped.empty()) {
        w.key("skipped").begin_array();
        for (const auto& c : r.skipped) w.value(c);
        w.end_array();
    }
    w.end_object();
}

void write_risk(JsonWriter& w, const RiskAssessment& r) {
    w.key("risk").begin_object().field("score", r.score).field("decision", r.decision).key("rules_hit").begin_array();
    for (const auto& h : r.rules_hit) w.value(h);
    w.end_array().end_object();
}

}  // namespace

std::string encode_routed(const RoutedPayment& p) {
    const auto& q = p.request;
    JsonWriter w(900);
    w.begin_object().field("payment_id", q.payment_id).field("root_id", q.root_id()).field("type", to_string(q.type));
    json_parts::merchant(w, q.merchant);
    json_parts::money(w, "amount", q.amount);
    if (q.instrument) {
        const auto& in = *q.instrument;
        w.key("instrument").begin_object().field("kind", to_string(in.kind)).field("fingerprint", in.fingerprint);
        w.optional_field("bin", in.bin).optional_field("last4", in.last4).optional_field("expiry", in.expiry);
        w.optional_field("provider", in.provider).optional_field("pin_block", in.pin_block);
        if (in.sealed_pan)
            w.key("sealed_pan")
                .begin_object()
                .field("key_id", in.sealed_pan->key_id)
                .field("nonce", in.sealed_pan->nonce)
                .field("ciphertext", in.sealed_pan->ciphertext)
                .optional_field("aad", in.sealed_pan->aad)
                .end_object();
        w.end_object();
    }
    json_parts::request_extras(w, q);
    write_route(w, p.route);
    if (p.risk) write_risk(w, *p.risk);
    write_times(w, p.times);
    if (p.home_partition >= 0) w.field("home_partition", static_cast<int64_t>(p.home_partition));
    return w.end_object().take();
}

std::optional<RoutedPayment> decode_routed(std::string_view bytes) {
    unsigned char buf[8192];
    json::monotonic_resource mr(buf, sizeof buf);
    auto doc = parse_doc(bytes, mr);
    if (!doc) return std::nullopt;
    const auto& o = doc->get_object();
    RoutedPayment p;
    auto& q = p.request;
    q.payment_id = str(o, "payment_id");
    auto type = parse_payment_type(str(o, "type"));
    auto amount = money_from(obj(o, "amount"));
    auto* route = obj(o, "route");
    if (q.payment_id.empty() || !type || !amount || !route) return std::nullopt;
    q.type = *type;
    q.amount = *amount;
    if (auto* m = obj(o, "merchant")) q.merchant = {str(*m, "id"), str(*m, "mcc"), str(*m, "country")};
    if (auto* i = obj(o, "instrument")) {
        Instrument in;
        auto kind = parse_instrument_kind(str(*i, "kind"));
        if (!kind) return std::nullopt;
        in.kind = *kind;
        in.fingerprint = str(*i, "fingerprint");
        in.bin = str(*i, "bin");
        in.last4 = str(*i, "last4");
        in.expiry = str(*i, "expiry");
        in.provider = str(*i, "provider");
        in.pin_block = str(*i, "pin_block");
        if (auto* s = obj(*i, "sealed_pan")) in.sealed_pan = SealedData{str(*s, "key_id"), str(*s, "nonce"), str(*s, "ciphertext"), str(*s, "aad")};
        q.instrument = std::move(in);
    }
    if (auto* c = obj(o, "customer")) q.customer = Customer{str(*c, "id"), str(*c, "ip"), str(*c, "country")};
    if (auto* md = obj(o, "metadata"))
        for (const auto& kv : *md)
            if (kv.value().is_string()) q.metadata.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
    if (auto* orig = obj(o, "original")) q.original = original_from(*orig);
    p.route = route_from(*route);
    if (auto* r = obj(o, "risk")) p.risk = risk_from(*r);
    p.times = times_from(obj(o, "timestamps"));
    q.created_at_ms = p.times.created_at;
    if (auto it = o.find("home_partition"); it != o.end()) {
        // A partition number or nothing: anything else is not a routed payment.
        if (!it->value().is_int64() || it->value().get_int64() < 0 || it->value().get_int64() > kMaxHomePartition)
            return std::nullopt;
        p.home_partition = static_cast<int32_t>(it->value().get_int64());
    }
    return p;
}

std::string encode_result(const PaymentResult& r) {
    JsonWriter w(900);
    w.begin_object().field("payment_id", r.payment_id).field("root_id", r.root_id);
    if (r.type) w.field("type", to_string(*r.type));
    w.field("status", to_string(r.status));
    w.key("reason").begin_object().field("code", r.reason.code).field("message", r.reason.message).end_object();
    if (r.amount) json_parts::money(w, "amount", *r.amount);
    w.optional_field("merchant_id", r.merchant_id).optional_field("channel", r.channel);
    w.optional_field("channel_ref", r.channel_ref).optional_field("approval_code", r.approval_code);
    if (r.risk) write_risk(w, *r.risk);
    if (r.route) write_route(w, *r.route);
    if (r.instrument) {
        w.key("instrument").begin_object().field("kind", to_string(r.instrument->kind));
        w.field("fingerprint", r.instrument->fingerprint).optional_field("bin", r.instrument->bin);
        w.optional_field("last4", r.instrument->last4).end_object();
    }
    if (r.original) json_parts::original(w, *r.original);
    write_times(w, r.times);
    return w.end_object().take();
}

std::optional<PaymentResult> decode_result(std::string_view bytes) {
    unsigned char buf[8192];
    json::monotonic_resource mr(buf, sizeof buf);
    auto doc = parse_doc(bytes, mr);
    if (!doc) return std::nullopt;
    return detail::result_from_object(doc->get_object());
}

std::optional<PaymentResult> detail::result_from_object(const boost::json::object& o) {
    PaymentResult r;
    r.payment_id = str(o, "payment_id");
    auto status = parse_result_status(str(o, "status"));
    if (r.payment_id.empty() || !status) return std::nullopt;
    r.status = *status;
    r.root_id = str(o, "root_id");
    r.type = parse_payment_type(str(o, "type"));
    if (auto* rs = obj(o, "reason")) r.reason = {str(*rs, "code"), str(*rs, "message")};
    r.amount = money_from(obj(o, "amount"));
    r.merchant_id = str(o, "merchant_id");
    r.channel = str(o, "channel");
    r.channel_ref = str(o, "channel_ref");
    r.approval_code = str(o, "approval_code");
    if (auto* rk = obj(o, "risk")) r.risk = risk_from(*rk);
    if (auto* rt = obj(o, "route")) r.route = route_from(*rt);
    if (auto* i = obj(o, "instrument"))
        if (auto kind = parse_instrument_kind(str(*i, "kind")))
            r.instrument = InstrumentView{*kind, str(*i, "fingerprint"), str(*i, "bin"), str(*i, "last4")};
    if (auto* orig = obj(o, "original")) r.original = original_from(*orig);
    r.times = times_from(obj(o, "timestamps"));
    return r;
}

}  // namespace turnout

namespace turnout {

std::string encode_batch_summary(const BatchSummary& b) {
    json::array merchants;
    for (const auto& m : b.merchants)
        merchants.push_back(json::object{{"merchant_id", m.merchant_id}, {"record_count", m.record_count},
                                         {"debit", m.debit}, {"credit", m.credit}, {"fees", m.fees}, {"net", m.net}});
    json::object o{{"batch_id", b.batch_id},
                   {"status", b.status},
                   {"channel", b.channel},
                   {"currency", b.currency},
                   {"window_start", format_rfc3339(b.window_start_ms)},
                   {"window_end", format_rfc3339(b.window_end_ms)},
                   {"record_count", b.record_count},
                   {"debit_total", b.debit_total},
                   {"credit_total", b.credit_total},
                   {"net", b.net},
                   {"fee_total", b.fee_total},
                   {"merchants", std::move(merchants)},
                   {"file", b.file},
                   {"sha256", b.sha256},
                   {"fixed_width_file", b.fixed_width_file},
                   {"fixed_width_sha256", b.fixed_width_sha256},
                   {"closed_at", format_rfc3339(b.closed_at_ms)}};
    if (b.status == "settled") o["settled_at"] = format_rfc3339(b.settled_at_ms);
    return json::serialize(o);
}

std::optional<BatchSummary> decode_batch_summary(std::string_view bytes) {
    json::error_code ec;
    auto doc = json::parse(bytes, ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const auto& o = doc.get_object();
    BatchSummary b;
    b.batch_id = str(o, "batch_id");
    if (b.batch_id.empty() || !o.contains("net")) return std::nullopt;
    b.status = str(o, "status");
    if (b.status.empty()) b.status = "closed";  // summaries from before the status field
    b.channel = str(o, "channel");
    b.currency = str(o, "currency");
    b.window_start_ms = parse_rfc3339(str(o, "window_start")).value_or(0);
    b.window_end_ms = parse_rfc3339(str(o, "window_end")).value_or(0);
    b.record_count = int_or(o, "record_count");
    b.debit_total = int_or(o, "debit_total");
    b.credit_total = int_or(o, "credit_total");
    b.net = int_or(o, "net");
    b.fee_total = int_or(o, "fee_total");
    if (auto* ms = o.if_contains("merchants"); ms && ms->is_array())
        for (const auto& m : ms->get_array())
            if (const auto* mo = m.if_object())
                b.merchants.push_back({str(*mo, "merchant_id"), int_or(*mo, "record_count"), int_or(*mo, "debit"),
                                       int_or(*mo, "credit"), int_or(*mo, "fees"), int_or(*mo, "net")});
    b.file = str(o, "file");
    b.sha256 = str(o, "sha256");
    b.fixed_width_file = str(o, "fixed_width_file");
    b.fixed_width_sha256 = str(o, "fixed_width_sha256");
    b.closed_at_ms = parse_rfc3339(str(o, "closed_at")).value_or(0);
    b.settled_at_ms = parse_rfc3339(str(o, "settled_at")).value_or(0);
    return b;
}

}  // namespace turnout
