#include "state/status_query.hpp"

#include <stdexcept>

#include "kafka/changelog.hpp"
#include "kafka/client.hpp"

namespace turnout {

int32_t partition_for_key(std::string_view key, int32_t partition_count) {
    return kafka::key_partition(key, partition_count);
}

int32_t partition_count(const KafkaConfig& cfg, const std::string& topic) {
    auto p = kafka::make_producer(cfg, {});
    return static_cast<int32_t>(kafka::partitions_of(p.get(), topic).size());
}

std::vector<int32_t> partitions_to_search(std::string_view root_id, int32_t partition_count) {
    std::vector<int32_t> order;
    if (partition_count <= 0) return order;
    const int32_t first = partition_for_key(root_id, partition_count);
    order.push_back(first);
    for (int32_t p = 0; p < partition_count; ++p)
        if (p != first) order.push_back(p);
    return order;
}

std::optional<std::string> read_payment_state(const KafkaConfig& cfg, std::string_view root_id) {
    const int32_t n = partition_count(cfg, cfg.topics.state);
    // A payment's state is in the partition its request arrived in: murmur2's for producers
    // that hash as the Java client does (the first one read), another for other partitioners.
    for (int32_t partition : partitions_to_search(root_id, n)) {
        std::optional<std::string> latest;
        kafka::replay_partition(cfg, cfg.topics.state, partition, [&](std::string_view key, std::string_view value) {
            if (key != root_id) return;
            if (value.empty())
                latest.reset();  // a tombstone
            else
                latest = std::string(value);
        });
        if (latest) return latest;
    }
    return std::nullopt;
}

void require_co_partitioned(const KafkaConfig& cfg) {
    auto p = kafka::make_producer(cfg, {});
    const auto& t = cfg.topics;
    const size_t requests = kafka::partitions_of(p.get(), t.requests).size();
    std::string counts;
    bool same = true;
    for (const auto* topic : {&t.requests, &t.results, &t.state, &t.lifecycle}) {
        const size_t n = kafka::partitions_of(p.get(), *topic).size();
        counts += (counts.empty() ? "" : ", ") + *topic + "=" + std::to_string(n);
        same = same && n == requests;
    }
    if (!same)
        throw std::runtime_error("a payment's life cycle must stay in one partition: these topics need the same "
                                 "partition count (" + counts + ")");
}

}  // namespace turnout
