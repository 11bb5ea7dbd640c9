#include "kafka/state_store.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>

#include "kafka/changelog.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"

namespace turnout::kafka {
namespace {
// Key spaces of one partition's database:
//   d<key>                  → 8-byte big-endian expiry (ms, 0: never) + value
//   x<expiry 8 bytes><key>  → ""   (entries by expiry, for bounded expiry scans)
//   i<index key>            → key  (secondary keys, local only)
//   m checkpoint            → 8-byte big-endian changelog offset a restore starts at
//   m rebuild               → present while the x and i keys are not derived from d yet
constexpr char kData = 'd';
constexpr char kExpiry = 'x';
constexpr char kIndex = 'i';
const std::string kCheckpointKey = "mcheckpoint";
const std::string kRebuildKey = "mrebuild";  // a bulk restore's derived keys are not rebuilt yet

void put_be64(std::string& s, int64_t v) {
    for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (i * 8)) & 0xff));
}
int64_t get_be64(std::string_view s) {
    uint64_t v = 0;
    for (int i = 0; i < 8 && i < static_cast<int>(s.size()); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return static_cast<int64_t>(v);
}
std::string data_key(std::string_view key) {
    std::string k;
    k.reserve(key.size() + 1);
    k.push_back(kData);
    k.append(key);
    return k;
}
std::string expiry_key(int64_t at, std::string_view key) {
    std::string k(1, kExpiry);
    put_be64(k, at);
    k.append(key);
    return k;
}
std::string index_key(std::string_view ik) { return std::string(1, kIndex) + std::string(ik); }

void check(const rocksdb::Status& s, const std::string& what) {
    if (!s.ok()) throw std::runtime_error("state store " + what + ": " + s.ToString());
}


// One memory budget for every database of the process: memtables are charged to the
// block cache, so a role's stores stay within it however many partitions it holds.
struct SharedMemory {
    std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(64 << 20);
    std::shared_ptr<rocksdb::WriteBufferManager> buffers =
        std::make_shared<rocksdb::WriteBufferManager>(32 << 20, cache);
};
SharedMemory& shared_memory() {
    static SharedMemory m;
    return m;
}
}  // namespace

PartitionStore::PartitionStore(const StoreSpec& spec, int32_t partition, const std::filesystem::path& dir,
                               const std::shared_ptr<rocksdb::Cache>& cache)
    : spec_(spec), partition_(partition), dir_(dir), cache_(cache) {
    open();
}

PartitionStore::~PartitionStore() = default;

void PartitionStore::open() {
    std::filesystem::create_directories(dir_);
    rocksdb::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = 4 << 20;
    o.max_write_buffer_number = 2;
    o.write_buffer_manager = shared_memory().buffers;
    o.max_open_files = 256;
    o.keep_log_file_num = 2;
    o.max_log_file_size = 1 << 20;
    o.max_background_jobs = 1;
    // Open without reading every table's properties (compaction statistics): a large store
    // opens in milliseconds, not in a read per file.
    o.skip_stats_update_on_db_open = true;
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache_ ? cache_ : shared_memory().cache;
    t.cache_index_and_filter_blocks = true;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Partitioned index and filters: a point read (every write reads the entry it replaces)
    // loads one small filter and index partition, not the whole filter block of a large
    // table, which the bounded shared cache cannot keep. Without this a history of millions
    // of entries made each read fetch and checksum megabytes of filter from disk.
    t.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
    t.partition_filters = true;
    t.metadata_block_size = 4096;
    t.pin_top_level_index_and_filter = true;
    t.cache_index_and_filter_blocks_with_high_priority = true;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    rocksdb::DB* db = nullptr;
    check(rocksdb::DB::Open(o, dir_.string(), &db), "open " + dir_.string());
    db_.reset(db);
}

std::optional<std::string> PartitionStore::get(std::string_view key) const {
    if (auto it = staged_.find(key); it != staged_.end()) return it->second.value;
    return get_committed(key);
}

std::optional<std::string> PartitionStore::get_committed(std::string_view key) const {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), data_key(key), &v);
    if (s.IsNotFound()) return std::nullopt;
    check(s, "get");
    if (v.size() < 8) return std::nullopt;
    // Past its time but not yet removed by an expiry tick: already gone for readers.
    if (const int64_t at = get_be64(v); at > 0 && at <= now_ms()) return std::nullopt;
    return v.substr(8);
}

std::optional<std::string> PartitionStore::key_by_index(std::string_view ik) const {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), index_key(ik), &v);
    if (s.IsNotFound()) return std::nullopt;
    check(s, "get index");
    return v;
}

void PartitionStore::scan_index(std::string_view prefix,
                                const std::function<void(std::string_view, std::string_view)>& fn) const {
    const std::string from = index_key(prefix);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(from); it->Valid() && it->key().starts_with(from); it->Next()) {
        const auto k = it->key();
        fn({k.data() + 1, k.size() - 1}, {it->value().data(), it->value().size()});
    }
}

void PartitionStore::scan(const std::function<void(std::string_view, std::string_view)>& fn) const {
    const std::string from(1, kData);
    const int64_t now = now_ms();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(from); it->Valid() && it->key().starts_with(from); it->Next()) {
        const auto k = it->key();
        const auto v = it->value();
        if (v.size() < 8) continue;
        if (const int64_t at = get_be64({v.data(), 8}); at > 0 && at <= now) continue;
        fn({k.data() + 1, k.size() - 1}, {v.data() + 8, v.size() - 8});
    }
}

void PartitionStore::put(std::string_view key, std::string value, int64_t now_ms, Emitter& out, Headers headers) {
    out.emit({spec_.changelog, std::string(key), value, std::move(headers), partition_});
    staged_.insert_or_assign(std::string(key), Staged{std::move(value), spec_.ttl_ms > 0 ? now_ms + spec_.ttl_ms : 0});
}

void PartitionStore::erase(std::string_view key, Emitter& out, Headers headers) {
    out.emit({spec_.changelog, std::string(key), {}, std::move(headers), partition_});
    staged_.insert_or_assign(std::string(key), Staged{std::nullopt, 0});
}

void PartitionStore::forget(std::string_view key) { staged_.insert_or_assign(std::string(key), Staged{std::nullopt, 0}); }

namespace {
// A data key's value: the entry's expiry (8 bytes, big-endian) and the value itself.
std::string stored_value(int64_t expires_at, const std::string& value) {
    std::string v;
    v.reserve(8 + value.size());
    put_be64(v, expires_at);
    v += value;
    return v;
}
}  // namespace

void PartitionStore::apply(rocksdb::WriteBatch& b, const std::string& key, const Staged& s) {
    const std::string dk = data_key(key);
    if (bulk_) {
        // Data only: rebuild_derived() makes the expiry and secondary keys at the end.
        if (!s.value) {
            b.Delete(dk);
            return;
        }
        b.Put(dk, stored_value(s.expires_at, *s.value));
        return;
    }
    // The entry as committed: its expiry and secondary keys are replaced, not left behind.
    std::string old;
    const auto st = db_->Get(rocksdb::ReadOptions(), dk, &old);
    if (!st.IsNotFound()) check(st, "get");
    std::vector<std::string> old_index, new_index;
    if (st.ok() && old.size() >= 8) {
        const int64_t at = get_be64(old);
        if (at > 0) b.Delete(expiry_key(at, key));
        if (spec_.index) spec_.index(key, std::string_view(old).substr(8), old_index);
    }
    if (!s.value) {
        b.Delete(dk);
        for (const auto& ik : old_index) b.Delete(index_key(ik));
        return;
    }
    b.Put(dk, stored_value(s.expires_at, *s.value));
    if (s.expires_at > 0) b.Put(expiry_key(s.expires_at, key), rocksdb::Slice());
    if (spec_.index) spec_.index(key, *s.value, new_index);
    for (const auto& ik : old_index)
        if (std::find(new_index.begin(), new_index.end(), ik) == new_index.end()) b.Delete(index_key(ik));
    for (const auto& ik : new_index) b.Put(index_key(ik), key);
}

void PartitionStore::write(rocksdb::WriteBatch& b) {
    rocksdb::WriteOptions w;
    w.sync = false;  // a lost tail is replayed from the changelog: the checkpoint is in the same batch
    check(db_->Write(w, &b), "write");
}

void PartitionStore::write_all(std::map<std::string, Staged, std::less<>>& entries, int64_t checkpoint) {
    rocksdb::WriteBatch b;
    for (const auto& [key, s] : entries) apply(b, key, s);
    if (checkpoint >= 0) {
        std::string cp;
        put_be64(cp, checkpoint);
        b.Put(kCheckpointKey, cp);
    }
    write(b);
    entries.clear();
}

void PartitionStore::commit(int64_t next_changelog_offset) {
    if (!staged_.empty()) write_all(staged_, next_changelog_offset);
}

void PartitionStore::abort() { staged_.clear(); }

int64_t PartitionStore::checkpoint() const {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), kCheckpointKey, &v);
    if (s.IsNotFound() || v.size() != 8) return -1;
    check(s, "get checkpoint");
    return get_be64(v);
}

void PartitionStore::restore(std::string_view key, std::string_view value, int64_t ts_ms, int64_t offset) {
    if (offset >= 0) restoring_next_ = offset + 1;
    if (!value.empty() && spec_.accept && !spec_.accept(key, value)) return;
    Staged s;
    if (!value.empty()) s.value = std::string(value);
    if (s.value && spec_.ttl_ms > 0) {
        s.expires_at = (ts_ms > 0 ? ts_ms : 0) + spec_.ttl_ms;
        if (s.expires_at <= now_ms()) s.value.reset();  // its time ran out while it was not here
    }
    restoring_.insert_or_assign(std::string(key), std::move(s));
    if (restoring_.size() >= 2000) write_all(restoring_, restoring_next_);
}

void PartitionStore::begin_bulk_restore() {
    bulk_ = true;
    rocksdb::WriteBatch b;
    b.Put(kRebuildKey, rocksdb::Slice());
    write(b);
}

bool PartitionStore::rebuild_pending() const {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), kRebuildKey, &v);
    if (s.IsNotFound()) return false;
    check(s, "get rebuild marker");
    return true;
}

void PartitionStore::rebuild_derived() {
    rocksdb::WriteBatch b;
    const std::string x_from(1, kExpiry), x_to(1, static_cast<char>(kExpiry + 1));
    const std::string i_from(1, kIndex), i_to(1, static_cast<char>(kIndex + 1));
    b.DeleteRange(x_from, x_to);
    b.DeleteRange(i_from, i_to);
    write(b);
    b.Clear();
    const std::string from(1, kData);
    rocksdb::ReadOptions scan;
    scan.fill_cache = false;  // one pass over every entry: it would only evict what is in use
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan));
    std::vector<std::string> index;
    for (it->Seek(from); it->Valid() && it->key().starts_with(from); it->Next()) {
        const auto k = it->key();
        const auto v = it->value();
        if (v.size() < 8) continue;
        const std::string_view key(k.data() + 1, k.size() - 1);
        if (const int64_t at = get_be64({v.data(), 8}); at > 0) b.Put(expiry_key(at, key), rocksdb::Slice());
        if (spec_.index) {
            index.clear();
            spec_.index(key, std::string_view(v.data() + 8, v.size() - 8), index);
            for (const auto& ik : index) b.Put(index_key(ik), rocksdb::Slice(key.data(), key.size()));
        }
        if (b.Count() >= 10000) {
            write(b);
            b.Clear();
        }
    }
    check(it->status(), "scan for rebuild");
    b.Delete(kRebuildKey);
    write(b);
}

void PartitionStore::finish_restore(int64_t next_offset) {
    write_all(restoring_, next_offset);
    restoring_next_ = -1;
    if (bulk_) {
        rebuild_derived();
        bulk_ = false;
    }
}

void PartitionStore::wipe() {
    db_.reset();
    rocksdb::Options o;
    check(rocksdb::DestroyDB(dir_.string(), o), "destroy " + dir_.string());
    open();
}

size_t PartitionStore::expire(int64_t now_ms, size_t max, Emitter& out) {
    if (spec_.ttl_ms <= 0 || max == 0) return 0;
    const std::string upper = expiry_key(now_ms + 1, {});
    rocksdb::Slice ub(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &ub;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    size_t n = 0, seen = 0;
    const std::string from(1, kExpiry);
    for (it->Seek(from); it->Valid() && n < max && seen < 4 * max; it->Next()) {
        ++seen;
        const auto k = it->key();
        if (k.size() < 9 || k[0] != kExpiry) break;
        const int64_t at = get_be64({k.data() + 1, 8});
        const std::string key(k.data() + 9, k.size() - 9);
        if (staged_.count(key)) continue;  // written in this transaction: not due any more
        // Still due as committed (a later write moved its expiry and removed this entry).
        std::string v;
        if (!db_->Get(rocksdb::ReadOptions(), data_key(key), &v).ok() || v.size() < 8 || get_be64(v) != at) continue;
        if (spec_.compacted)
            erase(key, out);
        else
            forget(key);
        ++n;
    }
    return n;
}

uint64_t PartitionStore::approximate_records() const {
    uint64_t n = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kEstimateNumKeys, &n);
    return n;
}

uint64_t PartitionStore::approximate_bytes() const {
    uint64_t sst = 0, mem = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
    db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &mem);
    return sst + mem;
}

// ---------------------------------------------------------------------------------------

// The state stores' families (docs/metrics.md, "State stores"), by role and store. They are
// counted on assignment, on expiry rounds and on each statistics report, never per record.
namespace store_metrics {
GaugeFamily& records() {
    static auto& f = declare_gauge("turnout_store_records",
                                   "Entries of a partition-local state store (RocksDB estimate), by role, store and partition");
    return f;
}
GaugeFamily& bytes() {
    static auto& f = declare_gauge(
        "turnout_store_bytes", "Bytes of a partition-local state store on disk and in memtables, by role, store and partition");
    return f;
}
CounterFamily& restored_records() {
    static auto& f = declare_counter("turnout_store_restored_records_total",
                                     "Changelog records replayed into state stores on assignment, by role and store");
    return f;
}
CounterFamily& restore_seconds() {
    static auto& f = declare_counter("turnout_store_restore_seconds_total",
                                     "Seconds spent restoring state stores from their changelogs, by role and store");
    return f;
}
CounterFamily& restores() {
    static auto& f = declare_counter("turnout_store_restores_total",
                                     "State store restores on assignment, by role, store and kind (tail: from the local "
                                     "checkpoint; full: no local copy)");
    return f;
}
CounterFamily& expired() {
    static auto& f = declare_counter("turnout_store_expired_total",
                                     "State store entries removed because their retention ran out, by role and store");
    return f;
}
}  // namespace store_metrics

StoreSet::StoreSet(const KafkaConfig& kafka, std::filesystem::path state_dir, std::string role,
                   std::vector<StoreSpec> specs)
    : kafka_(kafka), dir_(std::move(state_dir)), role_(std::move(role)), specs_(std::move(specs)),
      cache_(shared_memory().cache) {
    std::filesystem::create_directories(dir_);
}

StoreSet::~StoreSet() = default;

std::shared_ptr<PartitionStore> StoreSet::open_store(size_t s, int32_t p) {
    return std::make_shared<PartitionStore>(specs_[s], p, dir_ / specs_[s].name / std::to_string(p), cache_);
}

PartitionStore& StoreSet::at(size_t store, int32_t p) {
    {
        std::shared_lock lock(mu_);
        if (auto it = slots_.find(p); it != slots_.end() && it->second.stores.size() > store) return *it->second.stores[store];
    }
    std::vector<std::shared_ptr<PartitionStore>> opened;
    for (size_t s = 0; s < specs_.size(); ++s) opened.push_back(open_store(s, p));
    std::unique_lock lock(mu_);
    auto& slot = slots_[p];
    if (slot.stores.empty()) slot.stores = std::move(opened);
    return *slot.stores[store];
}

std::shared_ptr<PartitionStore> StoreSet::find(size_t store, int32_t p) const {
    std::shared_lock lock(mu_);
    auto it = slots_.find(p);
    if (it == slots_.end() || it->second.stores.size() <= store) return nullptr;
    return it->second.stores[store];
}

bool StoreSet::holds(int32_t p) const {
    std::shared_lock lock(mu_);
    return slots_.count(p) > 0;
}

std::vector<int32_t> StoreSet::partitions() const {
    std::shared_lock lock(mu_);
    std::vector<int32_t> out;
    for (const auto& [p, slot] : slots_)
        if (!slot.stores.empty()) out.push_back(p);
    return out;
}

size_t StoreSet::restore_one(PartitionStore& st, ChangelogSource& reader, bool& full,
                             const std::function<void()>& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto& spec = st.spec();
    auto bounds = reader.bounds(spec.changelog, st.partition());
    int64_t from = st.checkpoint();
    // A compacted changelog whose start moved past the local copy (records deleted on
    // purpose) cannot be joined to it: the copy is rebuilt from the changelog.
    if (from >= 0 && spec.compacted && from < bounds.log_start) {
        spdlog::warn("{}: store {} partition {}: local checkpoint {} is before the changelog start {}; rebuilding",
                     role_, spec.name, st.partition(), from, bounds.log_start);
        st.wipe();
        from = -1;
    }
    // A checkpoint past the changelog's end: the topic was recreated; the copy is stale.
    if (from > bounds.end) {
        spdlog::warn("{}: store {} partition {}: local checkpoint {} is past the changelog end {}; rebuilding",
                     role_, spec.name, st.partition(), from, bounds.end);
        st.wipe();
        from = -1;
    }
    full = from < 0;
    // Rebuilding the copy: write without reading what each record replaces (a random read per
    // record, the slow part of a long restore), then derive the expiry and index keys once.
    if (full || st.rebuild_pending()) st.begin_bulk_restore();
    size_t replayed = 0;
    auto r = reader.replay_from(spec.changelog, st.partition(), bounds, full ? bounds.log_start : from,
                                [&](std::string_view k, std::string_view v, int64_t ts, int64_t offset) {
                                    st.restore(k, v, ts, offset);
                                    if (progress && (++replayed & 4095) == 0) progress();
                                });
    st.finish_restore(r.next_offset);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    store_metrics::restored_records().Add({{"role", role_}, {"store", spec.name}}).Increment(static_cast<double>(r.records));
    store_metrics::restore_seconds().Add({{"role", role_}, {"store", spec.name}}).Increment(secs);
    store_metrics::restores().Add({{"role", role_}, {"store", spec.name}, {"kind", full ? "full" : "tail"}}).Increment();
    spdlog::debug("{}: store {} partition {} restored: {} changelog records from offset {} ({}) in {:.3f} s",
                  role_, spec.name, st.partition(), r.records, full ? bounds.log_start : from,
                  full ? "no local copy" : "local checkpoint", secs);
    return r.records;
}

void StoreSet::restore(const PartitionSet& assigned, const std::function<void()>& progress,
                       ChangelogSource* source) {
    std::unique_ptr<ChangelogReader> own;  // one client for every store and partition
    ChangelogSource* reader = source;
    const auto t0 = std::chrono::steady_clock::now();
    size_t stores = 0, records = 0, full = 0;
    for (const auto& [topic, p] : assigned) {
        bool fresh = false;
        {
            std::unique_lock lock(mu_);
            auto& slot = slots_[p];
            fresh = slot.topics.empty() && slot.stores.empty();
            slot.topics.insert(topic);
            if (!fresh) continue;
        }
        std::vector<std::shared_ptr<PartitionStore>> opened;
        if (!reader) reader = (own = std::make_unique<ChangelogReader>(kafka_)).get();
        for (size_t s = 0; s < specs_.size(); ++s) {
            opened.push_back(open_store(s, p));
            bool was_full = false;
            records += restore_one(*opened.back(), *reader, was_full, progress);
            if (progress) progress();
            full += was_full;
            ++stores;
        }
        std::unique_lock lock(mu_);
        slots_[p].stores = std::move(opened);
    }
    // A long replay leaves freed buffers in the allocator's arenas; give them back.
    if (records > 10000) ::malloc_trim(0);
    if (stores > 0)
        spdlog::info("{}: {} stores restored ({} without a local copy): {} changelog records replayed in {:.3f} s",
                     role_, stores, full, records,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    report();
}

void StoreSet::close(const PartitionSet& revoked) {
    std::unique_lock lock(mu_);
    for (const auto& [topic, p] : revoked) {
        auto it = slots_.find(p);
        if (it == slots_.end()) continue;
        it->second.topics.erase(topic);
        // Closed, but the files stay: if the partition comes back, only the changelog
        // written meanwhile is replayed.
        if (it->second.topics.empty()) slots_.erase(it);
    }
}

void StoreSet::commit(const ProducedOffsets& produced) {
    std::shared_lock lock(mu_);
    for (auto& [p, slot] : slots_)
        for (auto& st : slot.stores) {
            if (st->staged() == 0) continue;
            auto it = produced.find({st->spec().changelog, p});
            st->commit(it == produced.end() ? -1 : it->second);
        }
}

void StoreSet::abort() {
    std::shared_lock lock(mu_);
    for (auto& [p, slot] : slots_)
        for (auto& st : slot.stores) st->abort();
}

void StoreSet::expire(int64_t now_ms, Emitter& out, size_t budget) {
    std::vector<std::shared_ptr<PartitionStore>> all;
    {
        std::shared_lock lock(mu_);
        for (auto& [p, slot] : slots_)
            for (auto& st : slot.stores)
                if (st->spec().ttl_ms > 0) all.push_back(st);
    }
    if (all.empty()) return;
    // Round robin: each call starts at the next store, so none starves the others.
    for (size_t i = 0; i < all.size() && budget > 0; ++i) {
        auto& st = all[(expire_cursor_ + i) % all.size()];
        const size_t n = st->expire(now_ms, budget, out);
        if (n) {
            store_metrics::expired().Add({{"role", role_}, {"store", st->spec().name}}).Increment(static_cast<double>(n));
            budget -= n;
        }
    }
    ++expire_cursor_;
}

std::filesystem::path role_state_dir(const Config& cfg, const std::string& role, const std::string& instance) {
    return std::filesystem::path(cfg.state_dir) / (cfg.kafka.name_prefix + role + "-" + instance);
}

void StoreSet::report() {
    std::shared_lock lock(mu_);
    for (auto& [p, slot] : slots_)
        for (auto& st : slot.stores) {
            const std::map<std::string, std::string> l{
                {"role", role_}, {"store", st->spec().name}, {"partition", std::to_string(p)}};
            store_metrics::records().Add(l).Set(static_cast<double>(st->approximate_records()));
            store_metrics::bytes().Add(l).Set(static_cast<double>(st->approximate_bytes()));
        }
}

}  // namespace turnout::kafka
