#pragma once
// Partition-local state is rebuilt from a changelog partition: the stage writes its state
// changes to partition P of a changelog topic inside the same transaction as the input
// offsets of partition P, and on assignment of P replays that changelog partition (from a
// local checkpoint on, kafka/state_store.hpp).
#include <functional>
#include <memory>
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

struct ReplayRange {
    int64_t log_start = 0;    // the partition's first offset
    int64_t end = 0;          // its end (next offset) as of the call
    int64_t next_offset = 0;  // where the replay stopped (≥ end: markers take offsets too)
    size_t records = 0;
};
using ChangelogVisitor = std::function<void(std::string_view key, std::string_view value, int64_t ts_ms, int64_t offset)>;

// Where a store restore reads changelogs from: the broker (ChangelogReader), or records
// kept in memory when a stage is driven without one (test/unit/support/stage_driver.hpp).
class ChangelogSource {
public:
    virtual ~ChangelogSource() = default;
    // The watermarks of a changelog partition.
    virtual ReplayRange bounds(const std::string& topic, int32_t partition) = 0;
    // Calls `fn(key, value, timestamp_ms, offset)` for every committed record from
    // `from_offset` (clamped to the log start) to the end as of `bounds`. Throws when no
    // record arrives for `timeout_ms` (e.g. a transaction that is never decided).
    virtual ReplayRange replay_from(const std::string& topic, int32_t partition, ReplayRange bounds,
                                    int64_t from_offset, const ChangelogVisitor& fn, int timeout_ms = 60000) = 0;
};

// One read_committed consumer for a series of changelog reads (a restore of several stores
// and partitions): no client start-up and metadata round trip per partition.
class ChangelogReader : public ChangelogSource {
public:
    explicit ChangelogReader(const KafkaConfig& cfg);
    ~ChangelogReader() override;
    ChangelogReader(const ChangelogReader&) = delete;
    ChangelogReader& operator=(const ChangelogReader&) = delete;

    ReplayRange bounds(const std::string& topic, int32_t partition) override;
    ReplayRange replay_from(const std::string& topic, int32_t partition, ReplayRange bounds, int64_t from_offset,
                            const ChangelogVisitor& fn, int timeout_ms = 60000) override;

private:
    struct Client;
    std::unique_ptr<Client> c_;
};

// The watermarks of a changelog partition (a reader of its own).
ReplayRange changelog_bounds(const KafkaConfig& cfg, const std::string& topic, int32_t partition);

}  // namespace turnout::kafka
