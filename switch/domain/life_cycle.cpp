#include "domain/life_cycle.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {

Reason refuse(std::string_view code, std::string message) { return {std::string(code), std::move(message)}; }

int64_t in_flight_sum(const PaymentLifeCycle& lc, PaymentType t) {
    int64_t sum = 0;
    for (const auto& f : lc.in_flight)
        if (f.type == t) sum += f.amount;
    return sum;
}

bool has_in_flight(const PaymentLifeCycle& lc, PaymentType t) {
    return std::any_of(lc.in_flight.begin(), lc.in_flight.end(), [&](const auto& f) { return f.type == t; });
}

}  // namespace

std::string PaymentLifeCycle::status() const {
    if (!original_status) return "pending";
    if (*original_status != ResultStatus::approved) return std::string(to_string(*original_status));
    if (voided > 0) return "voided";
    if (refunded > 0) return refunded >= captured ? "refunded" : "partially_refunded";
    if (kind == PaymentType::authorize) {
        if (captured == 0) return "authorized";
        return captured < authorized ? "partially_captured" : "captured";
    }
    return "captured";  // an approved sale is authorized and captured at once
}

PaymentLifeCycle open_life_cycle(const PaymentRequest& original, int64_t now_ms) {
    PaymentLifeCycle lc;
    lc.root_id = original.payment_id;
    lc.kind = original.type;
    lc.merchant_id = original.merchant.id;
    lc.currency = original.amount.currency;
    lc.amount = original.amount.value;
    lc.created_at_ms = now_ms;
    lc.updated_at_ms = now_ms;
    return lc;
}

FollowUpDecision check_follow_up(const PaymentLifeCycle* lc, const PaymentRequest& f) {
    namespace c = life_cycle_code;
    using V = FollowUpVerdict;
    const int64_t amount = f.amount.value;
    if (!lc) return {V::reject, refuse(c::original_unknown, "no sale or authorize with this original.payment_id")};
    if (f.merchant.id != lc->merchant_id)
        return {V::reject, refuse(c::merchant_mismatch, "the original belongs to another merchant")};
    if (lc->answered_follow_ups.size() + lc->in_flight.size() >= kMaxFollowUpsPerPayment)
        return {V::reject, refuse(c::too_many_follow_ups, "a payment takes at most " +
                                                               std::to_string(kMaxFollowUpsPerPayment) +
                                                               " captures, voids and refunds")};
    if (!lc->original_status) return {V::hold, {}};
    if (*lc->original_status != ResultStatus::approved)
        return {V::reject, refuse(c::original_not_approved, "the original was " + lc->status())};
    if (!f.original || f.original->channel != lc->channel)
        return {V::reject, refuse(c::original_channel_mismatch, "the original is held by channel " + lc->channel)};
    if (f.amount.currency != lc->currency)
        return {V::reject, refuse(c::currency_mismatch, "the original is in " + lc->currency)};
    const bool voided = lc->voided > 0 || has_in_flight(*lc, PaymentType::void_);
    switch (f.type) {
        case PaymentType::capture: {
            if (lc->kind != PaymentType::authorize)
                return {V::reject, refuse(c::capture_not_authorization, "only an authorization can be captured")};
            if (voided) return {V::reject, refuse(c::capture_after_void, "the authorization was voided")};
            const int64_t open = lc->authorized - lc->captured - in_flight_sum(*lc, PaymentType::capture);
            if (amount > open)
                return {V::reject, refuse(c::capture_exceeds_authorized,
                                          "at most " + std::to_string(std::max<int64_t>(0, open)) +
                                              " minor units are left to capture")};
            return {V::accept, {}};
        }
        case PaymentType::void_:
            if (lc->kind != PaymentType::authorize)
                return {V::reject, refuse(c::void_not_authorization, "only an authorization can be voided")};
            if (voided) return {V::reject, refuse(c::already_voided, "the authorization was already voided")};
            if (lc->captured > 0 || has_in_flight(*lc, PaymentType::capture))
                return {V::reject, refuse(c::void_after_capture, "the authorization was (partly) captured")};
            return {V::accept, {}};
        case PaymentType::refund: {
            const int64_t open = lc->captured - lc->refunded - in_flight_sum(*lc, PaymentType::refund);
            if (amount > open)
                return {V::reject, refuse(c::refund_exceeds_captured,
                                          "at most " + std::to_string(std::max<int64_t>(0, open)) +
                                              " minor units are left to refund")};
            return {V::accept, {}};
        }
        default: return {V::accept, {}};  // sale and authorize are roots, not follow-ups
    }
}

void reserve(PaymentLifeCycle& lc, const PaymentRequest& f) {
    lc.in_flight.push_back({f.payment_id, f.type, f.amount.value});
}

bool is_duplicate_answer(const PaymentResult& r) {
    return r.status == ResultStatus::rejected && (r.reason.code == "duplicate_request" || r.reason.code == "key_mismatch");
}

bool apply_result(PaymentLifeCycle& lc, const PaymentResult& r, bool keep_history) {
    if (is_duplicate_answer(r)) return false;
    const bool is_original = r.payment_id == lc.root_id;
    if (keep_history) {
        for (const auto& e : lc.history)
            if (e.payment_id == r.payment_id) return false;
    }
    const int64_t amount = r.amount ? r.amount->value : 0;
    if (is_original) {
        if (lc.original_status && !keep_history) return false;
        lc.original_status = r.status;
        if (r.type && !is_follow_up(*r.type)) lc.kind = r.type;
        if (!r.merchant_id.empty()) lc.merchant_id = r.merchant_id;
        if (r.amount) {
            lc.currency = r.amount->currency;
            lc.amount = amount;
        }
        lc.channel = r.channel;
        lc.channel_ref = r.channel_ref;
        lc.approval_code = r.approval_code;
        if (r.status == ResultStatus::approved) {
            lc.authorized = amount;
            if (lc.kind == PaymentType::sale) lc.captured = amount;
        }
    } else {
        auto it = std::find_if(lc.in_flight.begin(), lc.in_flight.end(),
                               [&](const auto& f) { return f.payment_id == r.payment_id; });
        const bool was_in_flight = it != lc.in_flight.end();
        if (was_in_flight) lc.in_flight.erase(it);
        if (!keep_history && !was_in_flight) return false;
        if (!keep_history) lc.answered_follow_ups.push_back(r.payment_id);
        if (r.status == ResultStatus::approved && r.type) {
            switch (*r.type) {
                case PaymentType::capture: lc.captured += amount; break;
                case PaymentType::refund: lc.refunded += amount; break;
                case PaymentType::void_: lc.voided = lc.authorized - lc.captured; break;
                default: break;
            }
        }
    }
    const int64_t at = r.times.completed_at ? r.times.completed_at : lc.updated_at_ms;
    if (!lc.created_at_ms) lc.created_at_ms = r.times.created_at ? r.times.created_at : at;
    lc.updated_at_ms = std::max(lc.updated_at_ms, at);
    if (keep_history)
        lc.history.push_back({r.payment_id, r.type, r.status, amount, r.reason.code, r.channel, r.channel_ref,
                              r.approval_code, at});
    return true;
}

std::optional<PaymentLifeCycle> life_cycle_from_result(const PaymentResult& r) {
    if (is_duplicate_answer(r)) return std::nullopt;
    const std::string& root = r.root_id.empty() ? r.payment_id : r.root_id;
    if (r.payment_id != root) return std::nullopt;  // a follow-up of an original never seen
    if (r.type && is_follow_up(*r.type)) return std::nullopt;
    PaymentLifeCycle lc;
    lc.root_id = root;
    lc.kind = r.type;
    return lc;
}

std::string encode_life_cycle(const PaymentLifeCycle& lc, bool router_fields) {
    JsonWriter w(512 + 200 * lc.history.size());
    w.begin_object().field("root_id", lc.root_id);
    if (lc.kind) w.field("kind", to_string(*lc.kind));
    w.field("status", lc.status());
    if (lc.original_status) w.field("original_status", to_string(*lc.original_status));
    w.optional_field("merchant_id", lc.merchant_id).field("currency", lc.currency).field("amount", lc.amount);
    w.field("authorized", lc.authorized).field("captured", lc.captured);
    w.field("refunded", lc.refunded).field("voided", lc.voided);
    w.optional_field("channel", lc.channel).optional_field("channel_ref", lc.channel_ref);
    w.optional_field("approval_code", lc.approval_code);
    w.field("created_at", format_rfc3339(lc.created_at_ms)).field("updated_at", format_rfc3339(lc.updated_at_ms));
    w.key("history").begin_array();
    for (const auto& e : lc.history) {
        w.begin_object().field("payment_id", e.payment_id);
        if (e.type) w.field("type", to_string(*e.type));
        w.field("status", to_string(e.status)).field("amount", e.amount).optional_field("reason_code", e.reason_code);
        w.optional_field("channel", e.channel).optional_field("channel_ref", e.channel_ref);
        w.optional_field("approval_code", e.approval_code).field("at", format_rfc3339(e.at_ms)).end_object();
    }
    w.end_array();
    if (router_fields) {
        w.key("in_flight").begin_array();
        for (const auto& f : lc.in_flight)
            w.begin_object().field("payment_id", f.payment_id).field("type", to_string(f.type)).field("amount", f.amount).end_object();
        w.end_array();
        w.key("answered_follow_ups").begin_array();
        for (const auto& id : lc.answered_follow_ups) w.value(id);
        w.end_array();
    }
    return w.end_object().take();
}

std::optional<PaymentLifeCycle> decode_life_cycle(std::string_view bytes) {
    using json_read::int_or;
    using json_read::str;
    boost::json::error_code ec;
    auto doc = boost::json::parse(bytes, ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const auto& o = doc.get_object();
    PaymentLifeCycle lc;
    lc.root_id = str(o, "root_id");
    if (lc.root_id.empty()) return std::nullopt;
    lc.kind = parse_payment_type(str(o, "kind"));
    lc.original_status = parse_result_status(str(o, "original_status"));
    lc.merchant_id = str(o, "merchant_id");
    lc.currency = str(o, "currency");
    lc.amount = int_or(o, "amount");
    lc.authorized = int_or(o, "authorized");
    lc.captured = int_or(o, "captured");
    lc.refunded = int_or(o, "refunded");
    lc.voided = int_or(o, "voided");
    lc.channel = str(o, "channel");
    lc.channel_ref = str(o, "channel_ref");
    lc.approval_code = str(o, "approval_code");
    lc.created_at_ms = parse_rfc3339(str(o, "created_at")).value_or(0);
    lc.updated_at_ms = parse_rfc3339(str(o, "updated_at")).value_or(0);
    if (auto* h = o.if_contains("history"); h && h->is_array())
        for (const auto& v : h->get_array())
            if (const auto* e = v.if_object()) {
                LifeCycleEvent ev;
                ev.payment_id = str(*e, "payment_id");
                ev.type = parse_payment_type(str(*e, "type"));
                ev.status = parse_result_status(str(*e, "status")).value_or(ResultStatus::rejected);
                ev.amount = int_or(*e, "amount");
                ev.reason_code = str(*e, "reason_code");
                ev.channel = str(*e, "channel");
                ev.channel_ref = str(*e, "channel_ref");
                ev.approval_code = str(*e, "approval_code");
                ev.at_ms = parse_rfc3339(str(*e, "at")).value_or(0);
                lc.history.push_back(std::move(ev));
            }
    if (auto* f = o.if_contains("in_flight"); f && f->is_array())
        for (const auto& v : f->get_array())
            if (const auto* e = v.if_object())
                if (auto t = parse_payment_type(str(*e, "type")))
                    lc.in_flight.push_back({str(*e, "payment_id"), *t, int_or(*e, "amount")});
    if (auto* a = o.if_contains("answered_follow_ups"); a && a->is_array())
        for (const auto& v : a->get_array())
            if (v.is_string()) lc.answered_follow_ups.emplace_back(v.get_string());
    return lc;
}

std::string render_life_cycle(const PaymentLifeCycle& lc) {
    std::string out;
    char line[512];
    auto add = [&](const char* label, const std::string& v) {
        std::snprintf(line, sizeof line, "%-12s %s\n", label, v.c_str());
        out += line;
    };
    add("payment", lc.root_id + (lc.kind ? " (" + std::string(to_string(*lc.kind)) + ")" : ""));
    add("status", lc.status());
    if (!lc.merchant_id.empty()) add("merchant", lc.merchant_id);
    if (!lc.channel.empty())
        add("channel", lc.channel + (lc.channel_ref.empty() ? "" : "  ref " + lc.channel_ref) +
                           (lc.approval_code.empty() ? "" : "  approval " + lc.approval_code));
    add("amount", format_money(lc.amount, lc.currency));
    add("authorized", format_money(lc.authorized, lc.currency));
    add("captured", format_money(lc.captured, lc.currency));
    add("refunded", format_money(lc.refunded, lc.currency));
    add("voided", format_money(lc.voided, lc.currency));
    add("updated", format_rfc3339(lc.updated_at_ms));
    out += "history\n";
    for (const auto& e : lc.history) {
        std::snprintf(line, sizeof line, "  %s  %-9s %-28s %-9s %14s  %s\n", format_rfc3339(e.at_ms).c_str(),
                      e.type ? std::string(to_string(*e.type)).c_str() : "-", e.payment_id.c_str(),
                      std::string(to_string(e.status)).c_str(), format_money(e.amount, lc.currency).c_str(),
                      e.reason_code.c_str());
        out += line;
    }
    return out;
}

}  // namespace turnout
