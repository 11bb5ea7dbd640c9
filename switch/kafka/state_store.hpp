#pragma once
// Partition-local state stores (docs/state-stores.md). A stage's state for input partition P
// lives in a RocksDB database of its own under `<state_dir>/<store>/<P>`, and every change
// is also a record in partition P of the store's changelog topic, written inside the
// stage's transaction:
//
//   put/erase    → staged in memory (reads see them) + a changelog record in the transaction
//   txn commit   → the staged writes and the changelog position they reach (the checkpoint)
//                  go to RocksDB in one atomic write batch
//   txn abort    → the staged writes are dropped (the input is delivered again)
//   assignment   → the changelog is replayed from the checkpoint on, not from its start; with
//                  no local copy (a new machine, a lost disk) from its start
//
// A crash between the Kafka commit and the RocksDB write leaves the checkpoint behind the
// changelog: the next restore replays that tail. Entries expire `ttl` after their last
// write (the changelog record's timestamp), a bounded number per tick; a compacted
// changelog gets a tombstone for each.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "kafka/client.hpp"

namespace rocksdb {
class DB;
class Cache;
class WriteBatch;
}  // namespace rocksdb

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace turnout::kafka {

class Emitter;
using Headers = std::vector<std::pair<std::string, std::string>>;
using PartitionSet = std::vector<std::pair<std::string, int32_t>>;

struct StoreSpec {
    std::string name;       // directory and metric label: dedupe, ledger, state, ...
    std::string changelog;  // its changelog topic, partitioned like the stage's input
    int64_t ttl_ms = 0;     // an entry lives this long after its last write; 0: until erased
    // true: the changelog is compacted and expiry writes a tombstone to it; false: the
    // changelog is time-retained (retention ≥ ttl) and drops old records by itself.
    bool compacted = true;
    // Secondary keys of a record (look-ups by another id, listings by prefix). Kept in the
    // local database only, derived again from the values on restore.
    std::function<void(std::string_view key, std::string_view value, std::vector<std::string>& out)> index;
    // A changelog several stages write (each keeps only its own records): false for a
    // restored record this store does not keep. Tombstones are always applied.
    std::function<bool(std::string_view key, std::string_view value)> accept;
};

// One store's table for one partition.
class PartitionStore {
public:
    PartitionStore(const StoreSpec& spec, int32_t partition, const std::filesystem::path& dir,
                   const std::shared_ptr<rocksdb::Cache>& cache);
    ~PartitionStore();
    PartitionStore(const PartitionStore&) = delete;
    PartitionStore& operator=(const PartitionStore&) = delete;

    const StoreSpec& spec() const { return spec_; }
    int32_t partition() const { return partition_; }

    // This transaction's own writes first, then what is committed.
    std::optional<std::string> get(std::string_view key) const;
    // Only what is committed; safe from any thread.
    std::optional<std::string> get_committed(std::string_view key) const;
    // The key a committed secondary key belongs to; safe from any thread.
    std::optional<std::string> key_by_index(std::string_view index_key) const;
    // Committed secondary keys starting with `prefix`, in order.
    void scan_index(std::string_view prefix,
                    const std::function<void(std::string_view index_key, std::string_view key)>& fn) const;

    // Every committed entry whose time is not up, in key order.
    void scan(const std::function<void(std::string_view key, std::string_view value)>& fn) const;

    // Stages a write and emits its changelog record into the stage's transaction.
    void put(std::string_view key, std::string value, int64_t now_ms, Emitter& out, Headers headers = {});
    void erase(std::string_view key, Emitter& out, Headers headers = {});
    // Stages a local removal with no changelog record: for a time-retained changelog whose
    // records of `key` are superseded by a later record (the next restore drops it again).
    void forget(std::string_view key);

    // After the Kafka commit: the staged writes and `next_changelog_offset` (where a restore
    // goes on reading; -1: no changelog record of this transaction was acknowledged, the
    // checkpoint stays) in one atomic write.
    void commit(int64_t next_changelog_offset);
    void abort();
    size_t staged() const { return staged_.size(); }

    // Where a restore starts reading the changelog; -1 when there is no local copy.
    int64_t checkpoint() const;
    // During restore: a committed changelog record, written with timestamp `ts_ms`. With
    // its `offset` (≥ 0), restored chunks carry their checkpoint: a restore cut short (a
    // crash, a revocation) goes on from there the next time.
    void restore(std::string_view key, std::string_view value, int64_t ts_ms, int64_t offset = -1);
    // A restore that rebuilds the copy (no local copy, or a rebuild cut short): restored
    // records are written without reading the entries they replace, and the expiry and
    // secondary keys are derived from the data in one sequential pass at finish_restore.
    // A marker kept until that pass ends makes a restore cut short rebuild them next time.
    void begin_bulk_restore();
    bool rebuild_pending() const;
    // After the last restored record: flushes and sets the checkpoint to `next_offset`
    // (after a bulk restore, once the derived keys are rebuilt).
    void finish_restore(int64_t next_offset);
    // Drops the local copy (its checkpoint is older than what the changelog still holds).
    void wipe();

    // Stages the removal of up to `max` entries whose time is up; their changelog tombstones
    // (compacted stores) go into the transaction. Returns how many.
    size_t expire(int64_t now_ms, size_t max, Emitter& out);

    uint64_t approximate_records() const;
    uint64_t approximate_bytes() const;

private:
    struct Staged {
        std::optional<std::string> value;  // nullopt: erased
        int64_t expires_at = 0;
    };
    void open();
    void apply(rocksdb::WriteBatch& b, const std::string& key, const Staged& s);
    void write(rocksdb::WriteBatch& b);
    // Expiry and secondary keys from the data keys, replacing whatever was there.
    void rebuild_derived();
    // `entries` and the checkpoint (if ≥ 0) in one atomic batch; `entries` is emptied.
    void write_all(std::map<std::string, Staged, std::less<>>& entries, int64_t checkpoint);

    StoreSpec spec_;
    int32_t partition_;
    std::filesystem::path dir_;
    std::shared_ptr<rocksdb::Cache> cache_;
    std::unique_ptr<rocksdb::DB> db_;
    std::map<std::string, Staged, std::less<>> staged_;
    std::map<std::string, Staged, std::less<>> restoring_;  // a chunk of restored records
    int64_t restoring_next_ = -1;                            // the offset after its last record
    bool bulk_ = false;                                      // see begin_bulk_restore
};

// The changelog positions a committed transaction reached: (topic, partition) → next offset.
using ProducedOffsets = std::map<std::pair<std::string, int32_t>, int64_t>;

// Every store of one stage instance, for the partitions assigned to it. The runner drives
// it: restore on assignment (before the stage sees a record of the partition), commit and
// abort with the transaction, expiry on ticks, close on revocation.
class StoreSet {
public:
    // Stores live under `<state_dir>/<store>/<partition>`.
    StoreSet(const KafkaConfig& kafka, std::filesystem::path state_dir, std::string role, std::vector<StoreSpec> specs);
    ~StoreSet();

    // The store for partition `p` (opened when missing: a partition assigned without a
    // restore, e.g. in unit tests). Stage thread only.
    PartitionStore& at(size_t store, int32_t p);
    // The store for `p` if this instance holds it; safe from any thread.
    std::shared_ptr<PartitionStore> find(size_t store, int32_t p) const;
    bool holds(int32_t p) const;
    std::vector<int32_t> partitions() const;  // held now; safe from any thread

    // `progress` is called as the replay goes (every few thousand records): a long restore
    // is not a stuck process.
    // `source`: where the changelogs are read (null: the broker of `kafka`).
    void restore(const PartitionSet& assigned, const std::function<void()>& progress = {},
                 class ChangelogSource* source = nullptr);
    void close(const PartitionSet& revoked);
    void commit(const ProducedOffsets& produced);
    void abort();
    // A bounded amount of expiry per call, round robin over stores and partitions.
    void expire(int64_t now_ms, Emitter& out, size_t budget = 2000);
    // Refreshes the records/bytes gauges.
    void report();

    const std::filesystem::path& dir() const { return dir_; }

private:
    struct Slot {
        std::vector<std::shared_ptr<PartitionStore>> stores;  // by spec index
        std::set<std::string> topics;                         // assigned input topics of this number
    };
    std::shared_ptr<PartitionStore> open_store(size_t s, int32_t p);
    // Returns the records replayed; `full` is set when there was no usable local copy.
    size_t restore_one(PartitionStore& st, class ChangelogSource& reader, bool& full,
                       const std::function<void()>& progress);

    const KafkaConfig& kafka_;
    std::filesystem::path dir_;
    std::string role_;
    std::vector<StoreSpec> specs_;
    std::shared_ptr<rocksdb::Cache> cache_;
    mutable std::shared_mutex mu_;
    std::map<int32_t, Slot> slots_;
    size_t expire_cursor_ = 0;
};

// `<state_dir>/<name_prefix><role>-<instance>`: one instance's stores.
std::filesystem::path role_state_dir(const Config& cfg, const std::string& role, const std::string& instance);

}  // namespace turnout::kafka
