#pragma once
// The settlement changelog: every batch assignment and every batch close, so a partition's
// open batches can be rebuilt exactly after a crash or rebalance.
#include <optional>
#include <string>
#include <string_view>

#include "model/settlement.hpp"

namespace turnout {

// What a clearing record read back from the changelog must be: a valid payment id, channel id
// and known currency; merchant_id (≤ 64) and channel_ref (≤ 128) without control characters;
// sale/capture > 0, refund < 0, |amount| ≤ 10^12; 0 ≤ fee ≤ 10^12.
bool valid_clearing_record(const ClearingRecord& r);

struct BatchLogEntry {
    // add: a record assigned to its batch (key <batch id>/<index>); close: the batch closed
    // (key: the batch id); settled: a payment whose record is in a batch the DR takeover
    // adopted from the primary's clearing file (key settled_key(payment_id)): a result of it
    // read again is not settled again.
    enum class Op { add, close, settled } op = Op::add;
    std::string channel;
    std::string currency;
    int64_t window_start_ms = 0;
    ClearingRecord record;  // for add and settled
};

inline constexpr std::string_view kSettledKeyPrefix = "settled/";
inline std::string settled_key(const std::string& payment_id) { return std::string(kSettledKeyPrefix) + payment_id; }

std::string encode_batch_log(const BatchLogEntry& e);
// nullopt for an entry that is not JSON, misses a member, or whose record breaks a rule of
// valid_clearing_record: a replay skips (and counts) it.
std::optional<BatchLogEntry> decode_batch_log(std::string_view bytes);

}  // namespace turnout
