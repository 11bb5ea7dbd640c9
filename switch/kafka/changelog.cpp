#include "kafka/changelog.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "kafka/client.hpp"

namespace turnout::kafka {
namespace {
HandlePtr changelog_reader(const KafkaConfig& cfg) {
    return make_consumer(cfg, {{"group.id", "turnout.changelog-reader"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"isolation.level", "read_committed"},
                               {"fetch.wait.max.ms", "10"}});
}

// Reads [lo, hi) of a partition with `c`; returns the position reached.
int64_t read_range(rd_kafka_t* c, const std::string& topic, int32_t partition, int64_t lo, int64_t hi,
                   const std::function<void(const rd_kafka_message_t&)>& fn, int timeout_ms, size_t& n) {
    PartitionListPtr from(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(from.get(), topic.c_str(), partition)->offset = lo;
    if (auto err = rd_kafka_assign(c, from.get()))
        throw std::runtime_error("changelog assign: " + std::string(rd_kafka_err2str(err)));
    // `timeout_ms` without progress, not for the whole read: a long changelog (a full restore)
    // takes as long as it takes while records keep coming.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    PartitionListPtr pos(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(pos.get(), topic.c_str(), partition);
    int64_t reached = lo;
    for (;;) {
        // A short wait: the tail after a clean stop is often only a commit marker, which is
        // never handed out; a long poll would sit out its whole timeout once per store.
        MessagePtr m(rd_kafka_consumer_poll(c, 5));
        if (m && !m->err) {
            fn(*m);
            ++n;
        }
        if (m && n % 1000 != 0) continue;
        // Transaction markers take offsets too, so "done" is the position, not the last record.
        rd_kafka_position(c, pos.get());
        if (pos->elems[0].offset >= hi) return pos->elems[0].offset;
        const auto now = std::chrono::steady_clock::now();
        if (pos->elems[0].offset > reached) {
            reached = pos->elems[0].offset;
            deadline = now + std::chrono::milliseconds(timeout_ms);
        }
        if (now > deadline)
            throw std::runtime_error("changelog " + topic + "/" + std::to_string(partition) + " not readable to its end (at " +
                                     std::to_string(reached) + " of " + std::to_string(hi) + ")");
    }
}
}  // namespace

size_t replay_partition(const KafkaConfig& cfg, const std::string& topic, int32_t partition,
                        const std::function<void(std::string_view, std::string_view)>& fn, int timeout_ms,
                        int64_t from_timestamp_ms) {
    auto c = changelog_reader(cfg);
    int64_t lo = 0, hi = 0;
    watermarks(c.get(), topic, partition, lo, hi, 30000);
    if (hi <= lo) return 0;
    if (from_timestamp_ms >= 0) {
        PartitionListPtr at(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(at.get(), topic.c_str(), partition)->offset = from_timestamp_ms;
        if (auto err = rd_kafka_offsets_for_times(c.get(), at.get(), 30000))
            throw std::runtime_error("changelog offsets for time: " + std::string(rd_kafka_err2str(err)));
        const int64_t o = at->elems[0].offset;
        if (o < 0) return 0;  // nothing written since then
        lo = std::max(lo, o);
        if (hi <= lo) return 0;
    }
    size_t n = 0;
    read_range(c.get(), topic, partition, lo, hi,
               [&](const rd_kafka_message_t& m) {
                   fn({static_cast<const char*>(m.key), m.key_len}, {static_cast<const char*>(m.payload), m.len});
               },
               timeout_ms, n);
    rd_kafka_consumer_close(c.get());
    return n;
}

struct ChangelogReader::Client {
    HandlePtr consumer;
};

ChangelogReader::ChangelogReader(const KafkaConfig& cfg) : c_(std::make_unique<Client>()) {
    c_->consumer = changelog_reader(cfg);
}

ChangelogReader::~ChangelogReader() {
    if (c_ && c_->consumer) rd_kafka_consumer_close(c_->consumer.get());
}

ReplayRange ChangelogReader::bounds(const std::string& topic, int32_t partition) {
    ReplayRange r;
    watermarks(c_->consumer.get(), topic, partition, r.log_start, r.end, 30000);
    r.next_offset = r.end;
    return r;
}

ReplayRange ChangelogReader::replay_from(const std::string& topic, int32_t partition, ReplayRange bounds,
                                         int64_t from_offset, const ChangelogVisitor& fn, int timeout_ms) {
    const int64_t lo = std::max(bounds.log_start, from_offset);
    bounds.next_offset = std::max(lo, bounds.end);
    if (bounds.end <= lo) return bounds;
    bounds.next_offset = read_range(c_->consumer.get(), topic, partition, lo, bounds.end,
                                    [&](const rd_kafka_message_t& m) {
                                        fn({static_cast<const char*>(m.key), m.key_len},
                                           {static_cast<const char*>(m.payload), m.len},
                                           rd_kafka_message_timestamp(&m, nullptr), m.offset);
                                    },
                                    timeout_ms, bounds.records);
    return bounds;
}

ReplayRange changelog_bounds(const KafkaConfig& cfg, const std::string& topic, int32_t partition) {
    return ChangelogReader(cfg).bounds(topic, partition);
}

}  // namespace turnout::kafka
