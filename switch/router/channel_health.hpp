#pragma once
// Channel health as the connectors publish it on the compacted channels.health topic
// (key = channel id), and the router's table of the latest value per channel: a small
// background consumer reads the whole topic and swaps in a new snapshot on every change.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "config/config.hpp"

namespace turnout {

struct ChannelHealth {
    enum class Circuit { closed = 0, half_open = 1, open = 2 };
    std::string channel;
    Circuit circuit = Circuit::closed;
    int success_permille = 1000;  // answered (approved or declined) per 1000 calls, recent window
    int latency_ms = 0;           // mean channel call latency, recent window
    int64_t calls = 0;            // calls in the recent window
    int64_t updated_at_ms = 0;
};

std::string_view to_string(ChannelHealth::Circuit c);
std::string encode_channel_health(const ChannelHealth& h);
std::optional<ChannelHealth> decode_channel_health(std::string_view bytes);

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
