#include "risk/risk_probe.hpp"

namespace turnout {
namespace {
prometheus::Counter& decision_series(const char* d) {
    static auto& f = declare_counter("turnout_risk_decisions_total", "Risk decisions, by decision");
    return f.Add({{"decision", d}});
}
CounterFamily& rule_hits() {
    static auto& f = declare_counter("turnout_risk_rule_hits_total", "Risk rules hit, by rule name");
    return f;
}
}  // namespace

RiskProbe::RiskProbe()
    : StageProbe("risk"),
      approve_(decision_series("approve")),
      review_(decision_series("review")),
      decline_(decision_series("decline")),
      skipped_(decision_series("skipped")),
      hits_(rule_hits(), {}, {"rule"}) {}

prometheus::Counter& RiskProbe::decision(std::string_view d) const {
    if (d == "approve") return approve_;
    if (d == "review") return review_;
    if (d == "decline") return decline_;
    return skipped_;
}

}  // namespace turnout
