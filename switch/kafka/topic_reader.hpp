#pragma once
// Reading topics outside a consumer group's offsets, and producing one record and waiting for
// it: the Kafka client boundary for the tools and tables that are not stages (docs/design.md,
// "Layout"). Everything here speaks librdkafka so that the callers do not.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "kafka/client.hpp"
#include "kafka/handles.hpp"
#include "kafka/stage_runner.hpp"

namespace turnout::kafka {

// What a read record carries beyond Record: its timestamp and every header in order.
int64_t timestamp_ms(const Record& r);
std::vector<std::pair<std::string, std::string>> all_headers(const Record& r);

// A place in a partition.
struct Position {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
};

// A read_committed consumer that is assigned partitions (never joins its group, never commits:
// `group_id` only names the client to the broker's ACLs and monitoring).
// What a long-lived reader reports besides records (both called from poll()).
struct ReaderHooks {
    // The brokers' reachability, from librdkafka's statistics (set statistics.interval.ms).
    std::function<void(BrokerState)> broker_state;
    // A consumer error other than the end of a partition.
    std::function<void(const std::string&)> error;
};

class TopicReader {
public:
    TopicReader(const KafkaConfig& cfg, const std::string& group_id, const Properties& extra = {},
                ReaderHooks hooks = {});
    ~TopicReader();
    TopicReader(const TopicReader&) = delete;
    TopicReader& operator=(const TopicReader&) = delete;

    std::vector<int32_t> partitions(const std::string& topic) const;
    // Low and high watermark of one partition.
    std::pair<int64_t, int64_t> watermarks(const std::string& topic, int32_t partition) const;
    // Every partition of `topic` from its first record on (a table followed as it changes).
    void assign_from_beginning(const std::string& topic);
    // Each partition of `topics` at its current end: "from now on".
    std::vector<Position> end_positions(const std::vector<std::string>& topics) const;
    void assign(const std::vector<Position>& from);
    // The offsets the reader's group has committed for these partitions (offset -1001 where
    // it has none); nullopt when the coordinator does not answer within `timeout_ms`.
    std::optional<std::vector<Position>> committed(const std::vector<Position>& which, int timeout_ms = 10000) const;
    // Commits `offsets` for the reader's group, which must have no live member (a group
    // moved while its stage is stopped, as a DR takeover does); false with the reason.
    bool commit(const std::vector<Position>& offsets, std::string& why);
    // Each partition of `topic` at its first record with a timestamp at or after `ts_ms`
    // (its end where there is none).
    std::vector<Position> positions_at(const std::string& topic, int64_t ts_ms, int timeout_ms = 10000) const;
    // Each partition's end as this read_committed reader reaches it (its last stable offset),
    // and its first offset; one request per broker, not one per partition.
    std::vector<Position> ends_of(const std::string& topic, int timeout_ms = 10000) const;
    std::vector<Position> starts_of(const std::string& topic, int timeout_ms = 10000) const;
    // Waits up to `timeout_ms` for one record and hands it to `fn`; false when none came (an
    // error event counts as none).
    bool poll(int timeout_ms, const std::function<void(const Record&)>& fn);
    // Up to `max` records that arrive within `timeout_ms`, each handed to `fn`; how many.
    size_t poll_batch(int timeout_ms, size_t max, const std::function<void(const Record&)>& fn);
    // Reads [from, to) of each partition, then returns; `fn` returns false to stop early.
    // Throws when a partition cannot be read to `to` within a minute (a transaction left open).
    void read_ranges(const std::string& topic, std::map<int32_t, std::pair<int64_t, int64_t>> ranges,
                     const std::function<bool(const Record&)>& fn);

private:
    std::unique_ptr<ReaderHooks> hooks_;  // the statistics callback's opaque
    HandlePtr c_;
    QueuePtr queue_;  // the consumer queue, for poll_batch
    std::vector<rd_kafka_message_t*> batch_;
};

// A record produced: where it landed, or why it was not delivered.
struct Delivery {
    bool delivered = false;
    int32_t partition = -1;
    int64_t offset = -1;
    std::string error;
};
using DeliveryFn = std::function<void(const Delivery&)>;

// A plain (not transactional) producer: records out, delivery reports served by poll().
class Producer {
public:
    Producer(const KafkaConfig& cfg, const Properties& overrides);
    // False when the client refused the record (a full queue is waited out, not refused).
    bool produce(const OutRecord& r);
    // Never waits: false at once, with the reason in `why`, when the client refuses the record
    // or its queue is full; else `done` is called from poll() once it is delivered or failed.
    bool try_produce(const OutRecord& r, DeliveryFn done, std::string& why);
    // As try_produce, but a full queue is waited out (polling); false only when refused.
    bool produce(const OutRecord& r, DeliveryFn done, std::string& why);
    // Records not yet delivered or failed.
    int queued() const;
    void poll(int timeout_ms = 0);
    // True when every record was delivered or failed within `timeout_ms`.
    bool flush(int timeout_ms);
    std::vector<int32_t> partitions(const std::string& topic) const;
    std::vector<std::string> topics(int timeout_ms = 10000) const;  // kafka::list_topics

private:
    bool send(const OutRecord& r, DeliveryFn done, std::string& why, bool wait_out_full_queue);
    HandlePtr p_;
};

// Produces `r` with an idempotent producer of its own and waits up to `timeout_ms` for it.
Delivery produce_and_wait(const KafkaConfig& cfg, const OutRecord& r, int timeout_ms = 30000);

}  // namespace turnout::kafka
