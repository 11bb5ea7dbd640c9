#pragma once
// A synthetic history for the benchmark's history case: N settled payments written straight
// into the stores' changelog topics (no switch), keyed and partitioned as the router and the
// state role write them, so the roles start on a state of that size:
//
//   payments.lifecycle  the router's ledger entry of each root (LifeCycleLedger::encode_entry)
//   payments.state      each root's life cycle with its history (encode_life_cycle)
//
// every record in the partition of the payment's root id (murmur2, as the producers of the
// switch). The records carry the current time as their timestamp: the stores expire entries
// by record timestamp + retention, so the whole history is live.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "domain/life_cycle.hpp"

namespace turnout {

struct HistoryOptions {
    int64_t payments = 1000000;
    std::string prefix = "hist";  // payment_id prefix: `<prefix>-<kind><n>`
};

struct HistoryResult {
    int64_t payments = 0;
    int64_t records = 0;  // acknowledged by the broker
    int64_t failed = 0;   // not acknowledged
    int64_t bytes = 0;    // keys and values
    int64_t ledger_records = 0, state_records = 0;
    double seconds = 0;
    std::string json() const;
};

// One synthetic payment of the history: its root, the follow-ups, and the three views of it.
struct SyntheticPayment {
    std::string root_id;
    std::vector<std::string> payment_ids;  // root first, then its follow-ups
    PaymentLifeCycle ledger;               // as the router's ledger holds it once all results are in
    PaymentLifeCycle state;                // as the state role holds it (with its history)
};

// Payment `n` of a history, deterministic in its arguments: a quarter are authorizes
// captured in full (a third of those then half refunded), one sale in fifteen is half
// refunded, the rest are plain sales; all approved; amounts in integer minor units
// (multiples of 100; EUR, USD, GBP).
// `channel` holds every payment; `at_ms` is when the payment was made (its follow-ups come
// within the next minutes).
SyntheticPayment synthetic_payment(const std::string& prefix, int64_t n, const std::string& channel, int64_t at_ms);

// Writes the history with one idempotent (not transactional) producer. Throws when the
// topics are missing or not co-partitioned.
HistoryResult write_history(const Config& cfg, const HistoryOptions& opts);

}  // namespace turnout
