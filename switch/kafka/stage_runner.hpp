#pragma once
// The consume-transform-produce loop every stage runs on (docs/design.md, "Flow and keys"): a read_committed
// consumer, a transactional producer, offsets sent inside the transaction, a commit every
// N records or T ms, abort + rewind when the transaction must abort, commit on revoke.
#include <atomic>
#include <map>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/client.hpp"
#include "kafka/state_store.hpp"
#include "metrics/health.hpp"

namespace prometheus {
class Counter;
class Histogram;
}  // namespace prometheus

namespace boost::json {
class object;
}  // namespace boost::json

namespace turnout::kafka {

// Whether any broker is reachable, from a librdkafka statistics document (its "brokers"
// object: a connection in state "UP" means reachable; none up means down; no brokers
// listed means unknown).
BrokerState broker_state_from_stats(const boost::json::object& stats);

// A consumed record, valid during the call it is handed to. Its headers are librdkafka's
// (`raw`) or, for a record made without a broker (a unit test), `headers`.
struct Record {
    std::string_view topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::string_view key;
    std::string_view value;
    const rd_kafka_message_t* raw = nullptr;
    const Headers* headers = nullptr;
    // The last value of header `name`, empty if absent.
    std::string_view header(const char* name) const {
        if (raw) return kafka::header(raw, name);
        std::string_view v;
        if (headers)
            for (const auto& [k, val] : *headers)
                if (k == name) v = val;
        return v;
    }
};

// Produces into the stage's open transaction.
class Emitter {
public:
    virtual ~Emitter() = default;
    virtual void emit(const OutRecord& r) = 0;
};

using PartitionSet = std::vector<std::pair<std::string, int32_t>>;

// A stage's logic as the runner sees it. Logic must be able to forget everything since the
// last on_commit(): after on_abort() the same records are delivered again.
class StageLogic {
public:
    virtual ~StageLogic() = default;
    virtual void process(std::span<const Record> batch, Emitter& out) = 0;
    virtual void on_tick(int64_t /*now_ms*/, Emitter& /*out*/) {}
    virtual void on_commit() {}
    virtual void on_abort() {}
    // Once, before the first record (StageRunner::start): start what reads Kafka or serves
    // besides the stage's input (the router's channel health table, a connector's webhook
    // listener). A stage driven without a broker is never started.
    virtual void on_start() {}
    virtual void on_assign(const PartitionSet&) {}
    virtual void on_revoke(const PartitionSet&) {}
    // The stage's partition-local stores, if it has any: the runner restores them on
    // assignment (before on_assign and before any record of the partition), commits and
    // aborts them with the transaction, runs their expiry on ticks and closes them on revoke.
    virtual StoreSet* stores() { return nullptr; }
};

struct StageOptions {
    std::string name;              // for logs and client.id
    std::string group_id;
    std::string transactional_id;  // stable across this instance's restarts
    std::vector<std::string> topics;
    int commit_every_records = 2000;
    int commit_every_ms = 100;
    // When the input is drained, commit once the transaction is this old: at low load each
    // record waits about one commit, at high load transactions grow to N records / T ms.
    int commit_linger_ms = 5;
    int tick_ms = 200;
    size_t max_batch = 1000;
    Properties consumer_overrides;
    Properties producer_overrides;
    // false only for benchmarks of the plain Kafka limit: an idempotent producer, offsets
    // committed after a flush (at-least-once), no transactions.
    bool transactional = true;
    // Static group membership (group.instance.id): a restarted instance takes its
    // partitions back without a rebalance, within the session timeout.
    std::string group_instance_id;
    // Topics this stage may write: their metadata is fetched at start, so the first records
    // do not wait for a metadata round trip per topic.
    std::vector<std::string> output_topics;
};

// The options of a Turnout stage: group `<prefix>turnout.<name>`, transactional id
// `<group>.<instance>`, commit settings from kafka.transactions.
StageOptions stage_options(const KafkaConfig& cfg, const std::string& name, const std::string& instance,
                           std::vector<std::string> topics);

class StageRunner {
public:
    StageRunner(const KafkaConfig& cfg, StageOptions opts, StageLogic& logic);
    ~StageRunner();
    StageRunner(const StageRunner&) = delete;
    StageRunner& operator=(const StageRunner&) = delete;

    // Starts what the stage reads or serves besides its input (StageLogic::on_start), once;
    // throws what the stage throws (e.g. a webhook listener that cannot bind). run() does it
    // when it was not done before.
    void start();
    // Runs until `stop` is set (then drains: commits, leaves the group, returns 0) or a
    // fatal error (returns non-zero).
    int run(const std::atomic<bool>& stop);

private:
    class TxnEmitter;
    static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                             void* opaque);
    static int stats_cb(rd_kafka_t* rk, char* json, size_t len, void* opaque);
    static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
    void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
    void begin_if_needed();
    // A record librdkafka refuses for good (larger than message.max.bytes): dead-lettered as a
    // digest, counted, logged; the transaction goes on.
    void dead_letter_unproducible(const OutRecord& rec, rd_kafka_resp_err_t err);
    void commit();
    void abort_and_rewind();
    void handle_txn_error(rd_kafka_error_t* e, const char* what);

    const KafkaConfig& cfg_;
    StageOptions opts_;
    StageLogic& logic_;
    HandlePtr producer_;
    HandlePtr consumer_;
    QueuePtr queue_;
    bool started_ = false;
    bool txn_open_ = false;
    bool txn_failed_ = false;
    bool retry_commit_ = false;
    int64_t txn_started_ms_ = 0;
    size_t uncommitted_ = 0;
    std::string fatal_;  // a failure inside a librdkafka callback, raised by run()
    // Changelog positions reached by the open transaction (from delivery reports), handed to
    // the stores when it commits: (topic, partition) → next offset.
    std::map<std::pair<const rd_kafka_topic_t*, int32_t>, std::pair<std::string, int64_t>> produced_;
    void commit_stores();
    int64_t next_store_report_ms_ = 0;
    std::shared_ptr<HealthCell> health_;  // /livez, /readyz
    prometheus::Histogram& record_age_;
    prometheus::Counter& commits_;
    prometheus::Histogram& commit_time_;  // its loop waits this long for each commit
    prometheus::Counter& aborts_;
    prometheus::Counter& too_large_;
};

}  // namespace turnout::kafka
