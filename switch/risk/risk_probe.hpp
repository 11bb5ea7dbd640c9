#pragma once
// The risk stage's series (docs/metrics.md, "Risk"), declared in risk_probe.cpp and resolved
// when the stage is made; records in/out, DLQ and results come with StageProbe.
#include <string_view>

#include "kafka/stage_probe.hpp"

namespace turnout {

class RiskProbe : public StageProbe {
public:
    RiskProbe();

    // turnout_risk_decisions_total by decision (approve, review, decline, skipped).
    prometheus::Counter& decision(std::string_view d) const;
    // turnout_risk_rule_hits_total by rule name.
    prometheus::Counter& rule_hit(std::string_view rule) { return hits_({rule}); }

private:
    prometheus::Counter& approve_;
    prometheus::Counter& review_;
    prometheus::Counter& decline_;
    prometheus::Counter& skipped_;
    SeriesCache<prometheus::Counter> hits_;
};

}  // namespace turnout
