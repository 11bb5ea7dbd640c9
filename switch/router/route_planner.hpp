#pragma once
// Route selection (docs/routing-and-risk.md): the first rule whose conditions all match
// decides; its action orders the channels (fallback list, weighted split by payment_id
// hash, least cost by the channels' fee schedules, or success rate and latency from
// channels.health with a small exploration share). Channels whose circuit is open are left
// out while another channel remains. The same request, rules and health give the same plan.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "model/payment.hpp"
#include "router/channel_health.hpp"

namespace turnout {

// FNV-1a 64: stable across builds and platforms, so a split stays put across restarts.
uint64_t stable_hash(std::string_view s);

class RoutePlanner {
public:
    RoutePlanner(std::vector<RouteRule> rules, const std::vector<ChannelConfig>& channels);

    // Follow-ups (capture, void, refund) go to the channel holding the original.
    // nullopt when no rule matches. `health` may be null (no health known).
    std::optional<RoutePlan> plan(const PaymentRequest& r, const HealthMap* health = nullptr, int64_t now_ms = 0) const;

    // The fee of `amount` on `channel` (fixed + bps per currency), for least-cost ordering.
    int64_t fee(const std::string& channel, const Money& amount) const;

    const std::vector<RouteRule>& rules() const { return rules_; }

private:
    struct Fees {
        FeeRule any;
        std::map<std::string, FeeRule, std::less<>> per_currency;
    };
    std::vector<RouteRule> rules_;
    std::map<std::string, Fees, std::less<>> fees_;
};

bool route_matches(const RouteConditions& c, const PaymentRequest& r);

}  // namespace turnout
