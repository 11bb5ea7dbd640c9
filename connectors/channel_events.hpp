#pragma once
// Puts a channel's asynchronous events (verified PSP webhooks) on the channel's own topic,
// keyed by root id, so they reach the connector instance that owns the payment's
// partition, after the payment itself. The caller acknowledges the channel only once the
// broker has the event (acks=all, idempotent producer).
#include <atomic>
#include <functional>
#include <thread>

#include "config/config.hpp"
#include "connector.hpp"
#include "kafka/topic_reader.hpp"

namespace turnout {

class ChannelEventPublisher {
public:
    ChannelEventPublisher(const Config& cfg, const ChannelConfig& channel);
    ~ChannelEventPublisher();
    ChannelEventPublisher(const ChannelEventPublisher&) = delete;
    ChannelEventPublisher& operator=(const ChannelEventPublisher&) = delete;

    // `done(true)` once the event is on the topic, `done(false)` if it cannot be; called on
    // the publisher's poll thread.
    void publish(const ChannelEvent& e, std::function<void(bool)> done);

private:
    std::string topic_;
    kafka::Producer producer_;
    std::atomic<bool> stop_{false};
    std::thread poller_;
};

}  // namespace turnout
