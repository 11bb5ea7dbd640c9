#pragma once
// `turnout loadgen`: publishes N requests at a rate (or as fast as it can), waits for every
// result, then for the settlement batches, and reports throughput, latency, statuses and the
// settlement totals against the results.
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "loadgen/request_factory.hpp"

namespace turnout {

struct LoadgenOptions {
    int64_t count = 10000;
    double rate = 0;  // payments/s; 0 = as fast as possible
    uint64_t seed = 1;
    std::string run_id;  // prefix of every payment_id; default derived from the clock
    int result_timeout_s = 120;   // give up when no result arrived for this long
    int settlement_timeout_s = 0; // 0 = window + grace + 30 s
    bool wait_settlement = true;
    bool progress = true;
    double duplicate_share = 0;  // share of valid requests sent a second time, same payment_id
    FactoryMix mix;
};

struct LoadgenReport {
    int64_t sent = 0;
    int64_t expected_results = 0;
    int64_t received = 0;     // first result of an expected payment_id
    int64_t missing = 0;      // expected, never answered
    int64_t doubled = 0;      // a second result for one payment_id
    int64_t unexpected = 0;   // results for ids this run did not send
    int64_t send_errors = 0;
    int64_t duplicates_sent = 0;
    int64_t duplicate_answers = 0;  // `rejected` / duplicate_request answers to duplicates
    double seconds = 0;
    double throughput = 0;    // results per second over the run
    double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
    std::map<std::string, int64_t> by_status;
    std::map<std::string, int64_t> sent_by_label;
    std::map<std::string, int64_t> dlq_by_reason;
    std::map<std::string, int64_t> expected_net;  // per currency, from the results
    std::map<std::string, int64_t> settled_net;   // per currency, from settlement.batches
    int64_t batches = 0;
    int64_t settled_records = 0;
    bool settlement_checked = false;
    bool settlement_matches = false;
    std::vector<std::string> missing_sample;
    // Life cycles: results by step (sale, authorize, capture, void, refund) and outcome
    // (`approved`, `declined`, ..., `rejected:<code>`), the payments' states at the end, and
    // the steps sent to be refused (over-capture, capture after void, ...).
    std::map<std::string, std::map<std::string, int64_t>> steps;
    std::map<std::string, int64_t> payment_states;
    int64_t refusals_planned = 0;
    int64_t refused_as_planned = 0;
    int64_t steps_unexpected = 0;  // a valid step not approved, or a planned refusal that passed
    std::string sample_payment;    // root id of a payment with one of the longest life cycles

    bool ok() const {
        return missing == 0 && doubled == 0 && send_errors == 0 && (!settlement_checked || settlement_matches);
    }
};

LoadgenReport run_loadgen(const Config& cfg, const LoadgenOptions& opts);
void print_report(const LoadgenReport& r, std::ostream& out);
std::string report_json(const LoadgenReport& r);

}  // namespace turnout
