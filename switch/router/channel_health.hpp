#pragma once
// The router's table of the latest channel health per channel (codec/channel_health.hpp): a
// small background consumer reads the whole channels.health topic and swaps in a new
// snapshot on every change.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "codec/channel_health.hpp"
#include "config/config.hpp"

namespace turnout {

// Older reports are ignored: a connector that stopped publishing says nothing about now.
inline constexpr int64_t kHealthStaleMs = 30'000;
// A report dated further ahead of the router's clock than this is ignored (and counted): it
// would never grow stale and would pin routing for as long as its date lies ahead.
inline constexpr int64_t kHealthFutureSkewMs = 5'000;

// What the table does with a report read from channels.health.
enum class HealthUpdate {
    apply,        // the latest report of its channel
    older,        // older than the one held: a replayed or reordered report, ignored
    from_future,  // updated_at > now + kHealthFutureSkewMs: ignored and counted
};
std::string_view to_string(HealthUpdate u);
// Pure decision: `current` is the report held for the channel (null when none).
HealthUpdate judge_health_report(const ChannelHealth* current, const ChannelHealth& incoming, int64_t now_ms);

using HealthMap = std::map<std::string, ChannelHealth, std::less<>>;

class ChannelHealthTable {
public:
    explicit ChannelHealthTable(const KafkaConfig& cfg) : cfg_(cfg) {}
    ~ChannelHealthTable() { stop(); }
    void start();
    void stop();
    std::shared_ptr<const HealthMap> snapshot() const { return current_.load(); }
    // For tests and for a process without a broker.
    void put(const ChannelHealth& h);
    // A report as read from channels.health: judged, applied when it is the latest, counted
    // and logged at warn when it comes from the future.
    HealthUpdate offer(const ChannelHealth& h, int64_t now_ms);

private:
    void run();
    const KafkaConfig& cfg_;
    std::atomic<std::shared_ptr<const HealthMap>> current_{std::make_shared<const HealthMap>()};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace turnout
