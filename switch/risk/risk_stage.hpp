#pragma once
// The risk stage: payments.routed → score → the first channel of the plan, or a `declined`
// result with reason risk_<rule>.
#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "risk/risk_rules.hpp"

namespace turnout {

class RiskStage : public kafka::StageLogic {
public:
    explicit RiskStage(const Config& cfg);
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;

private:
    const Config& cfg_;
    RiskRules rules_;
    StageProbe probe_{"risk"};
    prometheus::Counter& approve_;
    prometheus::Counter& decline_;
    prometheus::Counter& skipped_;
};

kafka::StageOptions risk_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
