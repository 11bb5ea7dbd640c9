#pragma once
// Publishes a channel's health (circuit state, recent success rate and call latency) to
// the compacted channels.health topic, key = channel id, inside the connector's
// transaction: when the circuit changes state, at most once a second while calls are
// made, and every few seconds as a heartbeat. The router reads it as a table.
#include <cstdint>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "codec/channel_health.hpp"

namespace turnout {

class ChannelHealthPublisher {
public:
    ChannelHealthPublisher(const Config& cfg, const ChannelConfig& channel);
    // One call to the channel: how many payments it answered (approved or declined), how
    // many failed softly, and how long it took.
    void record_call(int64_t answered, int64_t soft_failures, double seconds);
    // `circuit` as CircuitBreaker::State (0 closed, 1 half-open, 2 open).
    void maybe_publish(int circuit, int64_t now_ms, kafka::Emitter& out);

    static constexpr int64_t kMinIntervalMs = 1000;
    static constexpr int64_t kHeartbeatMs = 5000;

private:
    const Config& cfg_;
    std::string channel_;
    prometheus::Counter& published_;
    ChannelHealth last_;
    bool published_once_ = false;
    int64_t last_at_ = 0;
    int64_t answered_ = 0, failed_ = 0, calls_ = 0;
    double seconds_ = 0;
};

}  // namespace turnout
