#pragma once
// `turnout bench-connector`: drives one channel's connector with synthetic sales, no Kafka,
// `inflight` payments per call, and reports payments per second and outcomes.
#include <cstdint>
#include <map>
#include <string>

#include "config/config.hpp"

namespace turnout {

struct ConnectorBenchOptions {
    std::string channel;
    int64_t count = 10000;
    int inflight = 100;          // payments handed to one Connector::call
    std::string run_id;          // payment_id prefix; default from the clock
    int64_t amount_minor = 1000; // every sale's amount (its last two digits pick the simulator's answer)
    int linger_ms = 0;           // keep the connector (and its idle connections) this long after the run
};

struct ConnectorBenchReport {
    int64_t payments = 0;
    double seconds = 0;
    double payments_per_s = 0;
    std::map<std::string, int64_t> outcomes;  // approved, declined, soft_failure, reversed, failed
    std::string json() const;
};

ConnectorBenchReport run_connector_bench(const Config& cfg, const ConnectorBenchOptions& opts);

}  // namespace turnout
