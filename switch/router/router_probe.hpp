#pragma once
// The router's series (docs/metrics.md, "Router"), declared in router_probe.cpp and resolved
// when the stage is made; the stage's records in/out, DLQ and results come with StageProbe.
#include <array>
#include <string_view>

#include "kafka/stage_probe.hpp"

namespace turnout {

class RouterProbe : public StageProbe {
public:
    RouterProbe();

    // turnout_route_plans_total for a plan's action; nullptr for an action the router does not make.
    prometheus::Counter* plan(std::string_view action) const;
    // turnout_life_cycle_rejections_total by the life-cycle rule's reason code.
    prometheus::Counter& rejected(std::string_view reason) { return rejected_({reason}); }

    prometheus::Counter& masked_card_numbers;  // turnout_card_numbers_masked_total
    prometheus::Gauge& held_follow_ups;        // turnout_life_cycle_held_follow_ups

private:
    static constexpr std::array<std::string_view, 6> kActions{"fallback", "split",  "least_cost",
                                                               "health",   "health_explore", "original_channel"};
    std::array<prometheus::Counter*, kActions.size()> plans_{};
    SeriesCache<prometheus::Counter> rejected_;
};

}  // namespace turnout
