#pragma once
// `turnout bench-connector`: one channel's connector against its host (a simulator), with
// no Kafka in between: how many payments per second the connector carries at a given
// number in flight.
#include <cstdint>
#include <ostream>
#include <string>

#include "config/config.hpp"

namespace turnout {

struct ConnectorBenchOptions {
    std::string channel;
    int64_t count = 20000;
    int inflight = 64;  // an http_json channel's max_connections is set to this
};

// Prints a JSON line (payments, seconds, payments_per_s, inflight, outcomes by kind).
// Returns 0 if every payment got an answer (approved or declined), 1 otherwise.
int run_connector_bench(const Config& cfg, const ConnectorBenchOptions& o, std::ostream& out);

}  // namespace turnout
