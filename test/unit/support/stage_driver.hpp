#pragma once
// Drives one stage's logic without a broker, as the StageRunner does around it: batches of
// records in, the records it emits kept per transaction, commit (the stores' changelog
// positions included), abort (the emitted records dropped, the same input delivered again),
// and a store restore from the changelog records committed so far.
#include <doctest/doctest.h>
#include <prometheus/registry.h>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kafka/changelog.hpp"
#include "kafka/stage_runner.hpp"
#include "../../metric_checks.hpp"
#include "model/time.hpp"

namespace turnout::testing {

struct Input {
    std::string topic;
    int32_t partition = 0;
    std::string key, value;
    kafka::Headers headers;
};

class StageDriver final : public kafka::Emitter, public kafka::ChangelogSource {
public:
    // `changelogs`: the topics of the stage's stores (records to them are kept for restores).
    StageDriver(kafka::StageLogic& logic, std::set<std::string> changelogs)
        : logic_(logic), changelogs_(std::move(changelogs)) {}

    void emit(const kafka::OutRecord& r) override { open_.push_back(r); }

    // One batch, as consumed records with the next offsets of their partitions; returns what
    // the stage emitted for it (also kept in the open transaction).
    std::vector<kafka::OutRecord> feed(const std::vector<Input>& batch) {
        std::vector<kafka::Record> recs;
        recs.reserve(batch.size());
        for (const auto& in : batch)
            recs.push_back({in.topic, in.partition, next_offset_[{in.topic, in.partition}]++, in.key, in.value,
                            nullptr, &in.headers});
        const size_t before = open_.size();
        logic_.process(recs, *this);
        return {open_.begin() + static_cast<std::ptrdiff_t>(before), open_.end()};
    }
    std::vector<kafka::OutRecord> tick(int64_t now_ms) {
        const size_t before = open_.size();
        logic_.on_tick(now_ms, *this);
        if (auto* s = logic_.stores()) s->expire(now_ms, *this);
        return {open_.begin() + static_cast<std::ptrdiff_t>(before), open_.end()};
    }

    // The transaction commits: its records become visible (changelog records get offsets)
    // and the stores learn the changelog positions reached.
    void commit() {
        kafka::ProducedOffsets produced;
        for (auto& r : open_) {
            if (changelogs_.count(r.topic)) {
                REQUIRE(r.partition >= 0);  // a changelog record goes to its input's partition
                auto& log = log_[{r.topic, r.partition}];
                log.push_back(r);
                produced[{r.topic, r.partition}] = static_cast<int64_t>(log.size());
            }
            committed_.push_back(std::move(r));
        }
        open_.clear();
        if (auto* s = logic_.stores()) s->commit(produced);
        logic_.on_commit();
    }
    // The transaction aborts: what it emitted is gone; the input is rewound (feed it again).
    void abort() {
        open_.clear();
        if (auto* s = logic_.stores()) s->abort();
        logic_.on_abort();
    }
    // Partitions assigned: the stores restored from the committed changelog records (of this
    // driver, or of `from`: another instance's), then the stage told.
    void assign(const kafka::PartitionSet& parts, StageDriver* from = nullptr) {
        if (from) log_ = from->log_;
        if (auto* s = logic_.stores()) s->restore(parts, {}, this);
        logic_.on_assign(parts);
    }

    const std::vector<kafka::OutRecord>& committed() const { return committed_; }
    std::vector<kafka::OutRecord> committed_to(const std::string& topic) const {
        std::vector<kafka::OutRecord> out;
        for (const auto& r : committed_)
            if (r.topic == topic) out.push_back(r);
        return out;
    }

    // kafka::ChangelogSource over the committed changelog records.
    kafka::ReplayRange bounds(const std::string& topic, int32_t partition) override {
        auto it = log_.find({topic, partition});
        const int64_t end = it == log_.end() ? 0 : static_cast<int64_t>(it->second.size());
        return {0, end, 0, 0};
    }
    kafka::ReplayRange replay_from(const std::string& topic, int32_t partition, kafka::ReplayRange b,
                                   int64_t from_offset, const kafka::ChangelogVisitor& fn, int) override {
        const auto& log = log_[{topic, partition}];
        for (int64_t o = std::max<int64_t>(from_offset, 0); o < b.end; ++o) {
            const auto& r = log[static_cast<size_t>(o)];
            fn(r.key, r.value, now_ms_for_replay ? now_ms_for_replay : now_ms(), o);
            ++b.records;
        }
        b.next_offset = b.end;
        return b;
    }
    int64_t now_ms_for_replay = 0;  // the timestamp replayed records carry (0: now)

private:
    kafka::StageLogic& logic_;
    std::set<std::string> changelogs_;
    std::map<std::pair<std::string, int32_t>, int64_t> next_offset_;
    std::vector<kafka::OutRecord> open_, committed_;
    std::map<std::pair<std::string, int32_t>, std::vector<kafka::OutRecord>> log_;
};

// The last value of header `name` (as a consumer reads it), empty if absent.
inline std::string header_of(const kafka::OutRecord& r, const std::string& name) {
    std::string last;
    for (const auto& [k, v] : r.headers)
        if (k == name) last = v;
    return last;
}

// A fresh directory for one test's stores and files, removed at the end.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("turnout-stage-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

}  // namespace turnout::testing
