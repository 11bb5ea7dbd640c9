#pragma once
// Partition-local state is rebuilt from a changelog partition: the stage writes its state
// changes to partition P of a changelog topic inside the same transaction as the input
// offsets of partition P, and on assignment of P replays that changelog partition.
#include <functional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace turnout::kafka {

// Calls `fn(key, value)` for every committed record of `topic`/`partition`, from the
// beginning to the end as of the call. Waits (up to `timeout_ms`) for transactions still
// open on it, e.g. those of a crashed instance, to be aborted. Returns the record count;
// throws std::runtime_error on timeout or a broker error. With `from_timestamp_ms` ≥ 0 the
// replay starts at the first record written at or after that time.
size_t replay_partition(const KafkaConfig& cfg, const std::string& topic, int32_t partition,
                        const std::function<void(std::string_view key, std::string_view value)>& fn,
                        int timeout_ms = 60000, int64_t from_timestamp_ms = -1);

}  // namespace turnout::kafka
