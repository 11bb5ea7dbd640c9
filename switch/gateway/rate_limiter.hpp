#pragma once
// Per-merchant token buckets: `rate_per_second` tokens a second up to `burst`. Pure (the
// caller passes the clock) and not thread-safe: the gateway holds it under its lock.
#include <cstdint>
#include <string>
#include <unordered_map>

namespace turnout::gateway {

struct RateVerdict {
    bool allowed = true;
    int retry_after_s = 0;  // when refused: whole seconds until a token is back (≥ 1)
};

class RateLimiter {
public:
    RateLimiter(double rate_per_second, double burst, size_t max_merchants = 100000);
    // Takes one token of `merchant`'s bucket at `now_ms` (a monotonic clock).
    RateVerdict take(const std::string& merchant, int64_t now_ms);
    size_t tracked() const { return buckets_.size(); }

private:
    struct Bucket {
        double tokens = 0;
        int64_t at_ms = 0;
    };
    double rate_, burst_;
    size_t max_merchants_;
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace turnout::gateway
