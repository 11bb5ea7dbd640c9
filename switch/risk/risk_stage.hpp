#pragma once
// The risk stage: payments.routed → score → the first channel of the plan, or a `declined`
// result with reason risk_<rule>. Velocity state is partition-local (payments.routed is
// keyed by instrument fingerprint): every payment let through is an entry of the velocity
// store (kafka/state_store.hpp; changelog payments.velocity, same partition, same
// transaction, kept risk.velocity_retention_hours), and a partition's in-memory book is
// rebuilt from the store when the partition is assigned, so a limit holds across restarts
// and rebalances.
#include <map>
#include <memory>
#include <unordered_map>

#include "config/config.hpp"
#include "domain/rules_source.hpp"
#include "kafka/stage_runner.hpp"
#include "risk/risk_probe.hpp"
#include "risk/risk_rules.hpp"
#include "risk/velocity.hpp"

namespace turnout {

class RiskStage : public kafka::StageLogic {
public:
    // `rules` may be shared with the router of the process; null = the config's rules, fixed.
    explicit RiskStage(const Config& cfg, std::shared_ptr<RulesSource> rules = {}, const std::string& instance = "0");
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;
    void on_commit() override;
    void on_abort() override;
    void on_assign(const kafka::PartitionSet& parts) override;
    void on_revoke(const kafka::PartitionSet& parts) override;
    kafka::StoreSet* stores() override { return &stores_; }

private:
    void rebuild(int32_t partition, const RiskPolicy& policy);

    const Config& cfg_;
    std::shared_ptr<RulesSource> rules_;
    std::unordered_map<int32_t, VelocityBook> books_;  // by payments.routed partition
    kafka::StoreSet stores_;
    int64_t last_expiry_ms_ = 0;
    RiskProbe probe_;
};

kafka::StageOptions risk_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
