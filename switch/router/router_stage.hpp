#pragma once
// The router stage: payments.requests → decode + validate, dedupe, protect card data,
// choose a route plan → payments.routed (keyed by instrument fingerprint); bad input to the
// DLQ and a `rejected` result. The life-cycle ledger is a partition-local state store
// (kafka/state_store.hpp) and the dedupe: every payment it admits (and every follow-up it
// refuses) is remembered for state.retention_days, whatever their number, in the store and
// the same partition of the lifecycle changelog, in the same transaction as the request's
// offset; so it holds across restarts and rebalances, and a restart replays only the
// changelog since its checkpoint.
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "config/config.hpp"
#include "domain/rules_source.hpp"
#include "kafka/stage_runner.hpp"
#include "router/channel_health.hpp"
#include "router/life_cycle_gate.hpp"
#include "router/route_planner.hpp"
#include "router/router_probe.hpp"
#include "security/card_vault.hpp"

namespace turnout {

class RouterStage : public kafka::StageLogic {
public:
    // `rules` may be shared with the risk stage of the process; null = the config's rules, fixed.
    RouterStage(const Config& cfg, const CardVault& vault, std::shared_ptr<RulesSource> rules = {},
                const std::string& instance = "0");
    ~RouterStage() override;
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_commit() override;
    void on_abort() override;
    void on_start() override;  // the channel health table's reader
    void on_assign(const kafka::PartitionSet& parts) override;
    void on_revoke(const kafka::PartitionSet& parts) override;
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;
    kafka::StoreSet* stores() override { return stores_.get(); }
    // Channel health as the router sees it; a stage driven without a broker is told here.
    ChannelHealthTable& channel_health() { return health_; }
    enum Store : size_t { kLedger = 0 };

private:
    // `held_traceparent`: set when a held follow-up is routed again (its record is gone).
    void route_one(const kafka::Record& rec, kafka::Emitter& out, std::string_view held_traceparent = {});
    std::string dlq_envelope(std::string_view value) const;
    void route_held(int32_t partition, std::string_view value, std::string_view traceparent, kafka::Emitter& out);

    const Config& cfg_;
    const CardVault& vault_;
    std::shared_ptr<RulesSource> rules_;
    std::shared_ptr<const RuleSet> rules_in_force_;  // the planner below was built from these
    std::optional<RoutePlanner> planner_;
    ChannelHealthTable health_;
    std::shared_ptr<const HealthMap> health_now_;  // this batch's view of channels.health
    std::unique_ptr<kafka::StoreSet> stores_;  // the life-cycle ledger, by requests partition
    RouterProbe probe_;
    LifeCycleGate life_cycle_{cfg_, probe_};
};

kafka::StageOptions router_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
