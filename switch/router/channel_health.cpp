#include "router/channel_health.hpp"

#include <spdlog/spdlog.h>

#include "kafka/topic_reader.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {
// turnout_channel_health_reports_ignored_total by reason, declared with the table that ignores them.
prometheus::Counter& ignored(const char* reason) {
    static auto& f = declare_counter("turnout_channel_health_reports_ignored_total",
                                     "channels.health reports the router left out of its table, by reason "
                                     "(from_future, unreadable)");
    return f.Add({{"reason", reason}});
}
}  // namespace

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
        static auto& from_future = ignored("from_future");
        from_future.Increment();
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
    std::unique_ptr<kafka::TopicReader> reader;
    try {
        reader = std::make_unique<kafka::TopicReader>(cfg_, cfg_.name_prefix + "turnout.health-reader");
        reader->assign_from_beginning(cfg_.topics.health);
    } catch (const std::exception& e) {
        // Routing goes on without health: every channel counts as up.
        spdlog::warn("router: channel health table not available ({}); routing without channel health", e.what());
        return;
    }
    while (!stop_.load()) {
        reader->poll(200, [&](const kafka::Record& r) {
            if (r.value.empty()) return;
            auto h = decode_channel_health(r.value);
            if (!h) {
                static auto& unreadable = ignored("unreadable");
                unreadable.Increment();
                spdlog::warn("router: unreadable channels.health record at {}/{}", r.partition, r.offset);
                return;
            }
            offer(*h, now_ms());
        });
    }
}

}  // namespace turnout
