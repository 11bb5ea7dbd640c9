#include "router/route_planner.hpp"

#include <algorithm>

namespace turnout {

std::optional<RoutePlan> RoutePlanner::plan(const PaymentRequest& r) const {
    if (is_follow_up(r.type)) {
        if (!r.original) return std::nullopt;
        return RoutePlan{"original_channel", {r.original->channel}, {}};
    }
    for (const auto& rule : rules_) {
        const bool currency_ok = rule.currencies.empty() ||
                                 std::find(rule.currencies.begin(), rule.currencies.end(), r.amount.currency) !=
                                     rule.currencies.end();
        const bool kind_ok = rule.instrument_kinds.empty() ||
                             (r.instrument && std::find(rule.instrument_kinds.begin(), rule.instrument_kinds.end(),
                                                        r.instrument->kind) != rule.instrument_kinds.end());
        if (currency_ok && kind_ok) return RoutePlan{rule.name, rule.plan, {}};
    }
    return std::nullopt;
}

}  // namespace turnout
