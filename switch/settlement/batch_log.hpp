#pragma once
// The settlement changelog: every batch assignment and every batch close, so a partition's
// open batches can be rebuilt exactly after a crash or rebalance.
#include <optional>
#include <string>
#include <string_view>

#include "model/settlement.hpp"

namespace turnout {

struct BatchLogEntry {
    enum class Op { add, close } op = Op::add;
    std::string channel;
    std::string currency;
    int64_t window_start_ms = 0;
    ClearingRecord record;  // for add
};

std::string encode_batch_log(const BatchLogEntry& e);
std::optional<BatchLogEntry> decode_batch_log(std::string_view bytes);

}  // namespace turnout
