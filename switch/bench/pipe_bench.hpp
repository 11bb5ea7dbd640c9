#pragma once
// The Kafka limit Turnout is measured against: records of a payment's size pushed through
// the same number of topic hops by trivial copy workers on the same runtime (the same
// librdkafka settings, and the same transactions when `transactional`).
#include <cstdint>

#include "config/config.hpp"

namespace turnout {

struct PipeBenchOptions {
    int hops = 3;  // router, risk, connector
    int64_t count = 100000;
    size_t record_bytes = 700;
    bool transactional = true;
    int timeout_s = 300;
};

struct PipeBenchResult {
    int64_t delivered = 0;
    double seconds = 0;
    double records_per_s = 0;
};

PipeBenchResult run_pipe_bench(const Config& cfg, const PipeBenchOptions& opts);

}  // namespace turnout
