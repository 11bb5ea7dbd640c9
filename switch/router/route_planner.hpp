#pragma once
// Route selection: the first rule whose conditions match gives the ordered channel plan.
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "model/payment.hpp"

namespace turnout {

class RoutePlanner {
public:
    explicit RoutePlanner(std::vector<RouteRule> rules) : rules_(std::move(rules)) {}

    // Follow-ups (capture, void, refund) go to the channel holding the original.
    // nullopt when no rule matches.
    std::optional<RoutePlan> plan(const PaymentRequest& r) const;

private:
    std::vector<RouteRule> rules_;
};

}  // namespace turnout
