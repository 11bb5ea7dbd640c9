#pragma once
// The gateway's decisions, free of HTTP and Kafka: which answer a POST /v1/payments gets
// before anything is published, and whether a stored payment is the one a request
// describes (idempotency). Unit-tested with tables of cases (test/unit/gateway/gateway_test.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/api_keys.hpp"
#include "gateway/rate_limiter.hpp"
#include "model/payment.hpp"
#include "domain/life_cycle.hpp"

namespace turnout::gateway {

// Error codes of the gateway's own rules (`{"error": code, "message": text}`); a request
// the decoder refuses is answered 400 with the decoder's rejection code (the DLQ's codes).
namespace code {
inline constexpr std::string_view unauthorized = "unauthorized";                      // 401
inline constexpr std::string_view merchant_mismatch = "merchant_mismatch";            // 403
inline constexpr std::string_view not_found = "not_found";                            // 404
inline constexpr std::string_view unknown_payment = "unknown_payment";                // 404
inline constexpr std::string_view method_not_allowed = "method_not_allowed";          // 405
inline constexpr std::string_view idempotency_conflict = "idempotency_conflict";      // 409
inline constexpr std::string_view too_large = "too_large";                            // 413
inline constexpr std::string_view unsupported_media_type = "unsupported_media_type";  // 415
inline constexpr std::string_view header_too_large = "header_too_large";              // 431
inline constexpr std::string_view rate_limited = "rate_limited";                      // 429
inline constexpr std::string_view missing_idempotency_key = "missing_idempotency_key";    // 400
inline constexpr std::string_view idempotency_key_mismatch = "idempotency_key_mismatch";  // 400
inline constexpr std::string_view bad_request = "bad_request";                        // 400 (unreadable HTTP)
inline constexpr std::string_view kafka_unavailable = "kafka_unavailable";            // 503
inline constexpr std::string_view state_unavailable = "state_unavailable";            // 503
inline constexpr std::string_view overloaded = "overloaded";                          // 503
}  // namespace code

struct ApiError {
    int status = 400;
    std::string code;
    std::string message;
    int retry_after_s = 0;  // 429: the Retry-After header
};

// `{"error": code, "message": text}`
std::string error_json(std::string_view code, std::string_view message);

// What the HTTP layer read of a POST /v1/payments.
struct PostInput {
    std::optional<std::string_view> authorization;    // the Authorization header, if any
    std::optional<std::string_view> content_type;     // the Content-Type header, if any
    std::optional<std::string_view> idempotency_key;  // the Idempotency-Key header, if any
    std::string_view body;
    bool body_too_large = false;  // the body was over the limit (and not read)
};

struct PostAccepted {
    PaymentRequest request;
    std::string merchant_id;  // the key's merchant (= request.merchant.id)
    std::string body_sha256;
};

struct PostDecision {
    std::optional<ApiError> error;
    std::optional<PostAccepted> accepted;
};

// Order: 401 unauthorized (missing, malformed or unknown key) → 429 rate_limited (a token of
// the key's merchant) → 413 too_large → 415 unsupported_media_type → 400
// missing_idempotency_key → 400 <decoder code> → 400 idempotency_key_mismatch (≠ payment_id)
// → 403 merchant_mismatch (merchant.id ≠ the key's merchant) → accepted.
PostDecision decide_post(const PostInput& in, const ApiKeys& keys, RateLimiter& limiter, int64_t now_ms,
                         size_t max_record_bytes);

// Is a stored payment the one `request` describes? Compares type, amount, currency and
// merchant. `unknown` when the stored record does not say (a follow-up not in a life
// cycle's history yet).
enum class Sameness { same, different, unknown };
Sameness compare_stored(const PaymentRequest& request, const PaymentResult& stored);
Sameness compare_stored(const PaymentRequest& request, const PaymentLifeCycle& stored);

}  // namespace turnout::gateway
