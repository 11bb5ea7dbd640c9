#include "router/router_probe.hpp"

namespace turnout {
namespace {
CounterFamily& route_plans() {
    static auto& f = declare_counter("turnout_route_plans_total", "Route plans chosen, by action");
    return f;
}
CounterFamily& card_numbers_masked() {
    static auto& f = declare_counter("turnout_card_numbers_masked_total",
                                     "Card numbers the router masked in request metadata and customer ids");
    return f;
}
CounterFamily& life_cycle_rejections() {
    static auto& f = declare_counter("turnout_life_cycle_rejections_total",
                                     "Captures, voids and refunds the router refused by a life-cycle rule, by reason");
    return f;
}
GaugeFamily& held_follow_ups() {
    static auto& f = declare_gauge("turnout_life_cycle_held_follow_ups",
                                   "Captures, voids and refunds the router holds until their original has a result");
    return f;
}
}  // namespace

RouterProbe::RouterProbe()
    : StageProbe("router"),
      masked_card_numbers(card_numbers_masked().Add({})),
      held_follow_ups(turnout::held_follow_ups().Add({})),
      rejected_(life_cycle_rejections(), {}, {"reason"}) {
    for (size_t i = 0; i < kActions.size(); ++i) plans_[i] = &route_plans().Add({{"action", std::string(kActions[i])}});
}

prometheus::Counter* RouterProbe::plan(std::string_view action) const {
    for (size_t i = 0; i < kActions.size(); ++i)
        if (kActions[i] == action) return plans_[i];
    return nullptr;
}

}  // namespace turnout
