#pragma once
// Status inquiry straight from payments.state, without a running state role: the partition
// of a root id is computed with the producers' partitioner (murmur2, as the Java client),
// and that one partition of the compacted topic is read to its end.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace turnout {

// The partition librdkafka's `murmur2_random` partitioner (and the Java client's default)
// gives a non-empty key.
int32_t partition_for_key(std::string_view key, int32_t partition_count);

// Partition count of a topic (throws std::runtime_error when it does not exist).
int32_t partition_count(const KafkaConfig& cfg, const std::string& topic);

// The order the partitions of payments.state are searched for a root id: murmur2's partition
// first (producers hashing as the Java client does), then every other one, since a payment
// lives in the partition its request arrived in, whatever partitioner put it there.
std::vector<int32_t> partitions_to_search(std::string_view root_id, int32_t partition_count);

// The latest payments.state value for `root_id`, nullopt when there is none (searched in
// the order above).
std::optional<std::string> read_payment_state(const KafkaConfig& cfg, std::string_view root_id);

// payments.requests, payments.results, payments.state and the router's life-cycle
// changelog must have the same partition count, or a payment's life cycle would be split.
// Throws std::runtime_error naming the counts otherwise.
void require_co_partitioned(const KafkaConfig& cfg);

}  // namespace turnout
