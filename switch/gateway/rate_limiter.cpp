#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace turnout::gateway {

RateLimiter::RateLimiter(double rate_per_second, double burst, size_t max_merchants)
    : rate_(std::max(rate_per_second, 0.001)), burst_(std::max(burst, 1.0)), max_merchants_(max_merchants) {}

RateVerdict RateLimiter::take(const std::string& merchant, int64_t now_ms) {
    auto it = buckets_.find(merchant);
    if (it == buckets_.end()) {
        // Merchants come from the keys file, so the table stays small; a full table drops
        // the buckets that have refilled anyway (a full bucket is the same as none).
        if (buckets_.size() >= max_merchants_)
            std::erase_if(buckets_, [&](const auto& kv) {
                return kv.second.tokens + static_cast<double>(now_ms - kv.second.at_ms) * rate_ / 1000.0 >= burst_;
            });
        it = buckets_.emplace(merchant, Bucket{burst_, now_ms}).first;
    }
    auto& b = it->second;
    if (now_ms > b.at_ms) {
        b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.at_ms) * rate_ / 1000.0);
        b.at_ms = now_ms;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return {true, 0};
    }
    const double wait_s = (1.0 - b.tokens) / rate_;
    return {false, std::max(1, static_cast<int>(std::ceil(wait_s)))};
}

}  // namespace turnout::gateway
