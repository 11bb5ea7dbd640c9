#include "health_publisher.hpp"

#include <algorithm>
#include <cmath>

namespace turnout {

ChannelHealthPublisher::ChannelHealthPublisher(const Config& cfg, const ChannelConfig& channel)
    : cfg_(cfg), channel_(channel.id), published_(declare_counter("turnout_channel_health_reports_total",
                                 "Channel health reports published on channels.health, by channel")
                     .Add({{"channel", channel.id}})) {
    last_.channel = channel.id;
}

void ChannelHealthPublisher::record_call(int64_t answered, int64_t soft_failures, double seconds) {
    answered_ += answered;
    failed_ += soft_failures;
    ++calls_;
    seconds_ += seconds;
}

void ChannelHealthPublisher::maybe_publish(int circuit, int64_t now, kafka::Emitter& out) {
    const auto state = static_cast<ChannelHealth::Circuit>(std::clamp(circuit, 0, 2));
    const bool changed = !published_once_ || state != last_.circuit;
    const bool due = calls_ > 0 ? now - last_at_ >= kMinIntervalMs : now - last_at_ >= kHeartbeatMs;
    if (!changed && !due) return;
    ChannelHealth h = last_;
    h.circuit = state;
    if (calls_ > 0) {
        // Figures of the calls since the last report; with no calls the last figures stand.
        const int64_t total = answered_ + failed_;
        h.success_permille = total > 0 ? static_cast<int>(answered_ * 1000 / total) : h.success_permille;
        h.latency_ms = static_cast<int>(std::lround(seconds_ * 1000.0 / static_cast<double>(calls_)));
    }
    h.calls = calls_;
    h.updated_at_ms = now;
    out.emit({cfg_.kafka.topics.health, channel_, encode_channel_health(h), {}});
    published_.Increment();
    last_ = h;
    published_once_ = true;
    last_at_ = now;
    answered_ = failed_ = calls_ = 0;
    seconds_ = 0;
}

}  // namespace turnout
