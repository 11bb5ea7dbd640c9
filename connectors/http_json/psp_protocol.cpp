#include "http_json/psp_protocol.hpp"

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"

namespace turnout::psp {
namespace {
using K = ChannelOutcome::Kind;

// The payment object of an answer or webhook → outcome; nullopt if unreadable.
std::optional<ChannelOutcome> outcome_of_payment(const boost::json::object& o) {
    const auto status = json_read::str(o, "status");
    ChannelOutcome out;
    out.code = json_read::str(o, "code");
    out.message = json_read::str(o, "message");
    out.channel_ref = json_read::str(o, "id");
    out.approval_code = json_read::str(o, "approval_code");
    if (status == "approved") {
        out.kind = K::approved;
        if (out.code.empty()) out.code = "approved";
    } else if (status == "declined") {
        out.kind = K::declined;
        if (out.code.empty()) out.code = "declined";
    } else if (status == "pending") {
        out.kind = K::pending;
        if (out.code.empty()) out.code = "pending";
    } else if (status == "cancelled") {
        out.kind = K::reversed;
        if (out.code.empty()) out.code = "cancelled";
    } else {
        return std::nullopt;
    }
    if (out.message.empty()) out.message = status;
    return out;
}

std::optional<ChannelOutcome> parse_payment(std::string_view body) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return outcome_of_payment(v.get_object());
}
}  // namespace

std::string payment_body(const RoutedPayment& p, std::string_view callback_url) {
    const auto& r = p.request;
    JsonWriter w(384);
    w.begin_object().field("payment_id", r.payment_id).field("type", to_string(r.type));
    w.key("amount").begin_object().field("value", r.amount.value).field("currency", r.amount.currency).end_object();
    w.field("merchant_id", r.merchant.id);
    if (r.instrument) {
        const auto& i = *r.instrument;
        w.key("instrument").begin_object().field("kind", to_string(i.kind));
        if (!i.token.empty()) w.field("token", i.token);
        if (!i.provider.empty()) w.field("provider", i.provider);
        if (!i.fingerprint.empty()) w.field("fingerprint", i.fingerprint);
        if (!i.bin.empty()) w.field("bin", i.bin);
        if (!i.last4.empty()) w.field("last4", i.last4);
        w.end_object();
    }
    if (r.original) {
        w.key("original").begin_object().field("payment_id", r.original->payment_id);
        w.field("psp_ref", r.original->channel_ref).end_object();
    }
    if (!callback_url.empty()) w.field("callback_url", callback_url);
    w.key("metadata").begin_object().field("root_id", r.root_id()).end_object();
    w.end_object();
    return w.take();
}

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::approved: return "approved";
        case Verdict::declined: return "declined";
        case Verdict::pending: return "pending";
        case Verdict::cancelled: return "cancelled";
        case Verdict::soft_failure: return "soft_failure";
        case Verdict::refused: return "refused";
        case Verdict::retry: return "retry";
        case Verdict::unknown: return "unknown";
    }
    return "unknown";
}

namespace {
Classified unknown(std::string message) {
    return {Verdict::unknown, {K::failed, "unknown_outcome", std::move(message), "", ""}};
}

Classified of_payment(const ChannelOutcome& o) {
    switch (o.kind) {
        case K::approved: return {Verdict::approved, o};
        case K::declined: return {Verdict::declined, o};
        case K::pending: return {Verdict::pending, o};
        case K::reversed: return {Verdict::cancelled, o};
        default: return unknown("unexpected payment state");
    }
}

const char* call_name(PspCall c) {
    return c == PspCall::payment ? "payment request" : c == PspCall::status_query ? "status query" : "cancel";
}
}  // namespace

Classified classify_answer(PspCall call, Delivery delivery, int http_status, std::string_view body, std::string_view error) {
    const std::string what = call_name(call);
    if (delivery == Delivery::not_sent) {
        // Provably never reached the PSP. Only a payment request may then move on: a status
        // query or cancel that could not be sent leaves the payment as unknown as it was.
        if (call == PspCall::payment)
            return {Verdict::soft_failure, {K::soft_failure, "not_received", "the request never reached the PSP: " + std::string(error), "", ""}};
        return unknown(what + " not sent: " + std::string(error));
    }
    if (delivery == Delivery::no_answer) return unknown("no answer to the " + what + ": " + std::string(error));
    const std::string http = "HTTP " + std::to_string(http_status);
    if (http_status >= 200 && http_status < 300) {
        auto o = parse_payment(body);
        if (!o) return unknown("unreadable answer to the " + what + " (" + http + ")");
        if (call == PspCall::cancel && o->kind == K::pending) return unknown("the PSP did not cancel the payment; still pending");
        return of_payment(*o);
    }
    if (call == PspCall::payment) {
        if (http_status == 409 || http_status == 429)
            return {Verdict::retry, {K::failed, "unknown_outcome",
                                     http + (http_status == 409 ? " (idempotency key in use)" : " (rate limited)"), "", ""}};
        // A definite refusal: the PSP did not execute the request (bad request, signature,
        // validation). 408 and 425 say nothing of the kind, so they stay unknown.
        if (http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 425)
            return {Verdict::refused, {K::failed, "http_" + std::to_string(http_status), "the PSP refused the request (not executed)", "", ""}};
        return unknown(http + " to the payment request: it may have been executed");
    }
    // No payment under the key to cancel: the PSP never received it, nothing to undo (the
    // code an ISO 8583 host's 25 gives a reversal). Asked only once nothing of the payment
    // can still be on its way to the PSP (a give-up, or a site taking over from a lost one).
    if (call == PspCall::cancel && http_status == 404)
        return {Verdict::cancelled, {K::reversed, "original_not_found", "the PSP has no payment under this idempotency key: never executed", "", ""}};
    if (call == PspCall::status_query && http_status == 404)
        return unknown("the PSP has no payment under this idempotency key (yet)");
    return unknown(http + " to the " + what);
}

ChannelOutcome outcome_of_payment_answer(int http_status, std::string_view body) {
    return classify_answer(PspCall::payment, Delivery::answered, http_status, body).outcome;
}

ChannelOutcome outcome_of_status_answer(int http_status, std::string_view body) {
    return classify_answer(PspCall::status_query, Delivery::answered, http_status, body).outcome;
}

std::optional<PspEvent> parse_webhook(std::string_view body) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    const auto* pay = json_read::obj(o, "payment");
    if (!pay) return std::nullopt;
    PspEvent e;
    e.event_id = json_read::str(o, "event_id");
    e.payment_id = json_read::str(*pay, "payment_id");
    if (const auto* md = json_read::obj(*pay, "metadata")) e.root_id = json_read::str(*md, "root_id");
    if (e.root_id.empty()) e.root_id = e.payment_id;
    auto out = outcome_of_payment(*pay);
    if (e.event_id.empty() || e.payment_id.empty() || !out) return std::nullopt;
    e.outcome = std::move(*out);
    return e;
}

std::string payment_json(const PspPayment& p) {
    JsonWriter w(256);
    w.begin_object().field("id", p.psp_ref).field("payment_id", p.payment_id).field("status", p.status);
    w.field("code", p.code).field("message", p.message);
    if (!p.approval_code.empty()) w.field("approval_code", p.approval_code);
    w.key("metadata").begin_object().field("root_id", p.root_id).end_object();
    w.end_object();
    return w.take();
}

std::string webhook_json(std::string_view event_id, const PspPayment& p) {
    return "{\"event_id\":\"" + std::string(event_id) + "\",\"type\":\"payment.updated\",\"payment\":" + payment_json(p) + "}";
}

}  // namespace turnout::psp
