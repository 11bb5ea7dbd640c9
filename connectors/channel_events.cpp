#include "channel_events.hpp"

#include <spdlog/spdlog.h>

#include "kafka/records.hpp"
#include "pending_book.hpp"

namespace turnout {

ChannelEventPublisher::ChannelEventPublisher(const Config& cfg, const ChannelConfig& channel)
    : topic_(cfg.kafka.topics.channel(channel.id)),
      producer_(cfg.kafka, {{"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"linger.ms", "2"},
                            {"message.timeout.ms", "10000"},
                            {"client.id", "turnout.connector." + channel.id + ".events"}}),
      poller_([this] {
          while (!stop_) producer_.poll(50);
      }) {}

ChannelEventPublisher::~ChannelEventPublisher() {
    producer_.flush(10000);
    stop_ = true;
    poller_.join();
    producer_.poll(0);
}

void ChannelEventPublisher::publish(const ChannelEvent& e, std::function<void(bool)> done) {
    kafka::OutRecord r{topic_, e.root_id, encode_channel_event(e),
                       {{kRecordKindHeader, kChannelEventKind},
                        {kafka::kTraceparent, kafka::new_traceparent()},
                        {"content-type", "application/json"}}};
    std::string why;
    const bool queued = producer_.try_produce(
        r,
        [done](const kafka::Delivery& d) {
            if (!d.delivered) spdlog::warn("channel event not recorded: {}", d.error);
            if (done) done(d.delivered);
        },
        why);
    if (!queued) {
        // Queue full or broken producer: refuse now, the channel redelivers later.
        spdlog::warn("channel event not queued: {}", why);
        if (done) done(false);
    }
}

}  // namespace turnout
