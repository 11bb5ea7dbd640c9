#pragma once
// Building librdkafka clients from the Turnout config: every `kafka.properties` entry
// passes through, role-specific settings are layered on top.
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/topic_catalogue.hpp"
#include "kafka/handles.hpp"

namespace turnout::kafka {

using Properties = std::map<std::string, std::string>;

// Throws std::runtime_error naming the property librdkafka refused. Producers hash keys
// with murmur2 (`partitioner=murmur2_random`), as the Java client does, so records keyed by
// root id land in the same partition whichever client wrote them (co-partitioning).
HandlePtr make_producer(const KafkaConfig& cfg, const Properties& overrides);
// The same, with a hook to set callbacks (delivery reports, opaque) before it is built.
HandlePtr make_producer(const KafkaConfig& cfg, const Properties& overrides,
                        const std::function<void(rd_kafka_conf_t*)>& customize);
// `customize` may set callbacks (rebalance, opaque) on the conf before the client is built.
HandlePtr make_consumer(const KafkaConfig& cfg, const Properties& overrides,
                        const std::function<void(rd_kafka_conf_t*)>& customize = {});

using Headers = std::vector<std::pair<std::string, std::string>>;

// A record to produce.
struct OutRecord {
    std::string topic;
    std::string key;
    std::string value;  // empty = null (a tombstone on a compacted topic)
    Headers headers;
    // Explicit partition for partition-local changelogs; by default the key decides.
    int32_t partition = RD_KAFKA_PARTITION_UA;
    // Shapes no stage writes, for the hostile-input tests (as an upstream producer might): a
    // null key instead of `key`; an empty value that is not null (an empty `value` is null).
    bool null_key = false;
    bool empty_value = false;
};

// Produces one record (copying key and value); on a full local queue it polls and retries,
// which is back-pressure, not an error. Returns the final librdkafka error code.
rd_kafka_resp_err_t produce(rd_kafka_t* producer, const OutRecord& r);
// One attempt, a full queue included (not waited out); `opaque` reaches the delivery report.
rd_kafka_resp_err_t produce_once(rd_kafka_t* producer, const OutRecord& r, void* opaque);

// Header value of a consumed message, empty if absent.
std::string_view header(const rd_kafka_message_t* m, const char* name);

struct TopicSpec {
    std::string name;
    std::vector<std::pair<std::string, std::string>> config;  // topic configs, e.g. cleanup.policy
    const CatalogueTopic* entry = nullptr;                    // its topic catalogue entry, if any
};

// Creates the topics that do not exist yet (kcfg.partitions, kcfg.replication_factor) and
// waits until every partition has a leader. Throws on any other failure.
void create_topics(const KafkaConfig& kcfg, const std::vector<TopicSpec>& topics, int timeout_ms = 30000);

// Every topic the config names, with its topic configs (what ensure_topics creates).
std::vector<TopicSpec> topic_catalogue(const Config& cfg);
// The catalogue as a JSON array: [{"name", "partitions", "replication_factor", "config": {},
// "catalogue_key", "key", "value", "partitioning", "read": [], "write": [], "describe": []}]
// (`turnout topics --json`; deploy/helm/turnout/files/topics.json is made from it).
std::string topic_catalogue_json(const Config& cfg);
// The topics the catalogue lets `principal` (router, risk, connector, ...) write, by name.
std::vector<std::string> topics_written_by(const Config& cfg, std::string_view principal);

// Creates every topic the config names (requests, routed, results, dlq, batches, health,
// state, one per channel) that does not exist yet. Throws on any other failure.
// `extra` is added to every topic's configs (tests raise max.message.bytes with it).
void ensure_topics(const Config& cfg, int timeout_ms = 30000,
                   const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace turnout::kafka

namespace turnout::kafka {
// The partition of `key` among `partition_count` as the producers place it (murmur2_random,
// the Java client's default).
int32_t key_partition(std::string_view key, int32_t partition_count);
// The partition of `key` as a producer with partitioner=consistent_random places it (CRC32),
// the partitioner of some upstream clients.
int32_t consistent_random_partition(std::string_view key, int32_t partition_count);
// The names of the topics the cluster lists; throws std::runtime_error (with librdkafka's
// reason) when no broker answers within `timeout_ms`.
std::vector<std::string> list_topics(rd_kafka_t* rk, int timeout_ms = 10000);
// Partition ids of `topic` (throws if it does not exist).
std::vector<int32_t> partitions_of(rd_kafka_t* rk, const std::string& topic, int timeout_ms = 10000);
// Low and high watermark of one partition, retrying while leadership settles.
void watermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t& lo, int64_t& hi,
                int timeout_ms = 10000);
// Each partition of the topics at its current high watermark: "from now on".
PartitionListPtr end_offsets(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeout_ms = 10000);
}  // namespace turnout::kafka
