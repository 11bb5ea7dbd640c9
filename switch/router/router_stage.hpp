#pragma once
// The router stage: payments.requests → decode + validate, dedupe, protect card data,
// choose a route plan → payments.routed (keyed by instrument fingerprint); bad input to the
// DLQ and a `rejected` result.
#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "router/dedupe.hpp"
#include "router/route_planner.hpp"
#include "security/card_vault.hpp"

namespace turnout {

class RouterStage : public kafka::StageLogic {
public:
    RouterStage(const Config& cfg, const CardVault& vault);
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_commit() override { dedupe_.commit(); }
    void on_abort() override { dedupe_.abort(); }

private:
    void route_one(const kafka::Record& rec, kafka::Emitter& out);

    const Config& cfg_;
    const CardVault& vault_;
    RoutePlanner planner_;
    PaymentIdDedupe dedupe_;
    StageProbe probe_{"router"};
};

kafka::StageOptions router_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
