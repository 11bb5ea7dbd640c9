#include "router/channel_health.hpp"

#include <spdlog/spdlog.h>

#include "kafka/client.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"

namespace turnout {

std::string_view to_string(HealthUpdate u) {
    switch (u) {
        case HealthUpdate::apply: return "apply";
        case HealthUpdate::older: return "older";
        case HealthUpdate::from_future: return "from_future";
    }
    return "apply";
}

HealthUpdate judge_health_report(const ChannelHealth* current, const ChannelHealth& incoming, int64_t now_ms) {
    if (incoming.updated_at_ms > now_ms + kHealthFutureSkewMs) return HealthUpdate::from_future;
    if (current && current->updated_at_ms > incoming.updated_at_ms) return HealthUpdate::older;
    return HealthUpdate::apply;
}

HealthUpdate ChannelHealthTable::offer(const ChannelHealth& h, int64_t now_ms) {
    auto prev = current_.load();
    auto it = prev->find(h.channel);
    const auto verdict = judge_health_report(it == prev->end() ? nullptr : &it->second, h, now_ms);
    if (verdict == HealthUpdate::apply) put(h);
    if (verdict == HealthUpdate::from_future) {
        Metrics::get().health_reports_ignored.Add({{"reason", "from_future"}}).Increment();
        spdlog::warn("router: channels.health report of {} dated {} ms ahead of this clock ignored", h.channel,
                     h.updated_at_ms - now_ms);
    }
    return verdict;
}

void ChannelHealthTable::put(const ChannelHealth& h) {
    auto next = std::make_shared<HealthMap>(*current_.load());
    (*next)[h.channel] = h;
    current_.store(std::move(next));
}

void ChannelHealthTable::start() {
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
}

void ChannelHealthTable::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void ChannelHealthTable::run() {
    // No group: every router reads every partition, the whole topic, then follows it.
    kafka::HandlePtr c;
    try {
        c = kafka::make_consumer(cfg_, {{"group.id", cfg_.name_prefix + "turnout.health-reader"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"isolation.level", "read_committed"},
                                        {"fetch.wait.max.ms", "100"}});
        auto parts = kafka::partitions_of(c.get(), cfg_.topics.health);
        kafka::PartitionListPtr from(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
        for (int32_t p : parts)
            rd_kafka_topic_partition_list_add(from.get(), cfg_.topics.health.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (auto err = rd_kafka_assign(c.get(), from.get())) throw std::runtime_error(rd_kafka_err2str(err));
    } catch (const std::exception& e) {
        // Routing goes on without health: every channel counts as up.
        spdlog::warn("router: channel health table not available ({}); routing without channel health", e.what());
        return;
    }
    while (!stop_.load()) {
        kafka::MessagePtr m(rd_kafka_consumer_poll(c.get(), 200));
        if (!m || m->err || !m->payload) continue;
        auto h = decode_channel_health({static_cast<const char*>(m->payload), m->len});
        if (!h) {
            Metrics::get().health_reports_ignored.Add({{"reason", "unreadable"}}).Increment();
            spdlog::warn("router: unreadable channels.health record at {}/{}", m->partition, m->offset);
            continue;
        }
        offer(*h, now_ms());
    }
    rd_kafka_consumer_close(c.get());
}

}  // namespace turnout
