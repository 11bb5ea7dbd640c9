#include "gateway/post_decision.hpp"

#include <cctype>

#include "codec/json_writer.hpp"
#include "codec/request_decoder.hpp"

namespace turnout::gateway {

std::string error_json(std::string_view c, std::string_view message) {
    JsonWriter w(96 + message.size());
    return w.begin_object().field("error", c).field("message", message).end_object().take();
}

namespace {
ApiError err(int status, std::string_view c, std::string message) { return {status, std::string(c), std::move(message), 0}; }

bool is_json_media_type(std::string_view v) {
    const auto semi = v.find(';');
    auto t = v.substr(0, semi);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    constexpr std::string_view want = "application/json";
    if (t.size() != want.size()) return false;
    for (size_t i = 0; i < t.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(t[i])) != want[i]) return false;
    return true;
}
}  // namespace

PostDecision decide_post(const PostInput& in, const ApiKeys& keys, RateLimiter& limiter, int64_t now_ms,
                         size_t max_record_bytes) {
    PostDecision d;
    std::optional<std::string> merchant;
    if (in.authorization)
        if (auto key = bearer_token(*in.authorization)) merchant = keys.verify(*key);
    if (!merchant) {
        d.error = err(401, code::unauthorized, "missing or unknown API key (Authorization: Bearer <key>)");
        return d;
    }
    if (auto v = limiter.take(*merchant, now_ms); !v.allowed) {
        d.error = err(429, code::rate_limited, "too many requests for this merchant; retry later");
        d.error->retry_after_s = v.retry_after_s;
        return d;
    }
    if (in.body_too_large || in.body.size() > max_record_bytes) {
        d.error = err(413, code::too_large, "the body is over " + std::to_string(max_record_bytes) + " bytes");
        return d;
    }
    if (!in.content_type || !is_json_media_type(*in.content_type)) {
        d.error = err(415, code::unsupported_media_type, "Content-Type must be application/json");
        return d;
    }
    if (!in.idempotency_key || in.idempotency_key->empty()) {
        d.error = err(400, code::missing_idempotency_key, "the Idempotency-Key header (= payment_id) is required");
        return d;
    }
    auto decoded = decode_request(in.body, max_record_bytes);
    if (!decoded.request) {
        const auto& r = *decoded.rejection;
        d.error = err(400, r.code, r.message);
        return d;
    }
    auto& req = *decoded.request;
    if (*in.idempotency_key != req.payment_id) {
        d.error = err(400, code::idempotency_key_mismatch, "the Idempotency-Key header must equal the body's payment_id");
        return d;
    }
    if (req.merchant.id != *merchant) {
        d.error = err(403, code::merchant_mismatch, "merchant.id is not the merchant of this API key");
        return d;
    }
    d.accepted = PostAccepted{std::move(req), std::move(*merchant), sha256_hex_of(in.body)};
    return d;
}

Sameness compare_stored(const PaymentRequest& r, const PaymentResult& s) {
    if (s.payment_id != r.payment_id) return Sameness::unknown;
    if (!s.merchant_id.empty() && s.merchant_id != r.merchant.id) return Sameness::different;
    if (s.type && *s.type != r.type) return Sameness::different;
    if (s.amount && (s.amount->value != r.amount.value || s.amount->currency != r.amount.currency))
        return Sameness::different;
    if (s.merchant_id.empty() && !s.type && !s.amount) return Sameness::unknown;  // a bare rejection
    return Sameness::same;
}

Sameness compare_stored(const PaymentRequest& r, const PaymentLifeCycle& lc) {
    if (!lc.merchant_id.empty() && lc.merchant_id != r.merchant.id) return Sameness::different;
    if (!lc.currency.empty() && lc.currency != r.amount.currency) return Sameness::different;
    if (lc.root_id == r.payment_id) {
        if (is_follow_up(r.type)) return Sameness::different;
        if (lc.kind && *lc.kind != r.type) return Sameness::different;
        if (lc.amount != 0 && lc.amount != r.amount.value) return Sameness::different;
        return lc.kind ? Sameness::same : Sameness::unknown;
    }
    for (const auto& e : lc.history)
        if (e.payment_id == r.payment_id) {
            if (e.type && *e.type != r.type) return Sameness::different;
            if (e.amount != 0 && e.amount != r.amount.value) return Sameness::different;
            return Sameness::same;
        }
    return Sameness::unknown;
}

}  // namespace turnout::gateway
