#pragma once
// The gateway's memory of recent payments, free of HTTP and Kafka and not thread-safe (the
// server holds it under one lock):
//  * idempotency keys (payment_ids) → SHA-256 of the body first posted with them, bounded;
//  * requests in flight, each with the callers waiting for its result, so concurrent POSTs
//    of one key are published once and all answered with the same result;
//  * recent final results by payment_id (bounded, with a time to live).
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/post_decision.hpp"

namespace turnout::gateway {

// What a waiting caller is told.
struct Signal {
    enum Kind { result, duplicate, failed } kind = result;
    std::string json;  // result: the result as on payments.results
};
using Waiter = std::function<void(const Signal&)>;

enum class Admission {
    publish,   // new: publish the request, then wait (the caller is registered as a waiter)
    join,      // the same request is in flight: wait for its result (registered as a waiter)
    answered,  // a final result of the same payment is at hand: `json`
    conflict,  // the key was used with another body or for another payment: 409
};

struct Admit {
    Admission what = Admission::publish;
    std::string json;      // answered
    uint64_t waiter = 0;   // publish / join: the id to leave() with
    bool decided = false;  // join: the result came, but it is no longer cached
};

struct BookLimits {
    size_t max_keys = 100000;
    size_t max_results = 100000;
    int64_t result_ttl_ms = 15 * 60 * 1000;
};

class IdempotencyBook {
public:
    explicit IdempotencyBook(BookLimits limits = {}) : limits_(limits) {}

    // A POST accepted by decide_post. `waiter` is kept (publish, join) until a result,
    // failure or leave().
    Admit admit(const PostAccepted& post, int64_t now_ms, Waiter waiter);

    // A final result read from payments.results (any payment): cached; the waiters of its
    // payment_id are returned with the signal to give them (and forgotten).
    std::vector<Waiter> on_result(const PaymentResult& r, std::string json, int64_t now_ms);
    // A `duplicate_request` answer: the payment existed before; its waiters are returned (and
    // kept: the real result may still come).
    std::vector<Waiter> on_duplicate(const std::string& payment_id);
    // Publishing failed: the key is forgotten (a retry may publish again); waiters returned.
    std::vector<Waiter> on_publish_failed(const std::string& payment_id);
    // Kafka acknowledged the request of `payment_id`.
    void on_delivered(const std::string& payment_id);
    // Whether the request of `payment_id` this gateway published was acknowledged (true for
    // keys answered without publishing).
    bool delivered(const std::string& payment_id) const;
    // A waiter gives up (answered 202 or disconnected).
    void leave(const std::string& payment_id, uint64_t waiter);
    // The stored payment disagrees with the body the key was first used with: forget it.
    void forget(const std::string& payment_id);

    // A cached final result, nullptr if none or expired.
    const std::string* cached(const std::string& payment_id, int64_t now_ms) const;

    size_t keys() const { return keys_.size(); }
    size_t results() const { return results_.size(); }
    size_t waiting() const;

private:
    struct Key {
        std::string body_sha256;
        std::vector<std::pair<uint64_t, Waiter>> waiters;
        bool done = false;
        bool delivered = false;
    };
    struct Cached {
        PaymentResult result;
        std::string json;
        int64_t at_ms = 0;
    };
    void trim_keys();
    void trim_results(int64_t now_ms);

    BookLimits limits_;
    uint64_t next_waiter_ = 1;
    std::unordered_map<std::string, Key> keys_;
    std::deque<std::string> key_order_;
    std::unordered_map<std::string, Cached> results_;
    std::deque<std::pair<std::string, int64_t>> result_order_;
};

}  // namespace turnout::gateway
