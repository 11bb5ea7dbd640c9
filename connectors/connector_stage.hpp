#pragma once
// The connector stage of one channel: payments.channel.<id> → call the channel → a final
// result on payments.results, or on a soft failure the next channel of the plan.
#include <memory>

#include "config/config.hpp"
#include "circuit_breaker.hpp"
#include "connector.hpp"
#include "health_publisher.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"

namespace turnout {

class ConnectorStage : public kafka::StageLogic {
public:
    ConnectorStage(const Config& cfg, const ChannelConfig& channel);
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;

private:
    const Config& cfg_;
    const ChannelConfig& channel_;
    std::unique_ptr<Connector> connector_;
    StageProbe probe_;
    prometheus::Histogram& latency_;
    prometheus::Histogram& e2e_;
    CircuitBreaker breaker_;
    prometheus::Gauge& circuit_state_;
    prometheus::Counter& calls_approved_;
    prometheus::Counter& calls_declined_;
    prometheus::Counter& calls_soft_failure_;
    prometheus::Counter& calls_circuit_open_;
    prometheus::Counter& calls_reversed_;
    prometheus::Counter& calls_failed_;
    ChannelHealthPublisher health_;
};

kafka::StageOptions connector_options(const Config& cfg, const std::string& channel_id, const std::string& instance);

}  // namespace turnout
