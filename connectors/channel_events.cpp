#include "channel_events.hpp"

#include <spdlog/spdlog.h>

#include "kafka/records.hpp"
#include "pending_book.hpp"

namespace turnout {
namespace {
using Done = std::function<void(bool)>;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    std::unique_ptr<Done> done(static_cast<Done*>(m->_private));
    if (m->err) spdlog::warn("channel event not recorded: {}", rd_kafka_err2str(m->err));
    if (done && *done) (*done)(m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
}
}  // namespace

ChannelEventPublisher::ChannelEventPublisher(const Config& cfg, const ChannelConfig& channel)
    : topic_(cfg.kafka.topics.channel(channel.id)),
      producer_(kafka::make_producer(cfg.kafka,
                                     {{"enable.idempotence", "true"},
                                      {"acks", "all"},
                                      {"linger.ms", "2"},
                                      {"message.timeout.ms", "10000"},
                                      {"client.id", "turnout.connector." + channel.id + ".events"}},
                                     [](rd_kafka_conf_t* c) { rd_kafka_conf_set_dr_msg_cb(c, on_delivery); })),
      poller_([this] {
          while (!stop_) rd_kafka_poll(producer_.get(), 50);
      }) {}

ChannelEventPublisher::~ChannelEventPublisher() {
    rd_kafka_flush(producer_.get(), 10000);
    stop_ = true;
    poller_.join();
    rd_kafka_poll(producer_.get(), 0);
}

void ChannelEventPublisher::publish(const ChannelEvent& e, std::function<void(bool)> done) {
    const std::string value = encode_channel_event(e);
    auto tp = kafka::new_traceparent();
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(3);
    rd_kafka_header_add(hdrs, kRecordKindHeader, -1, kChannelEventKind, -1);
    rd_kafka_header_add(hdrs, kafka::kTraceparent, -1, tp.data(), static_cast<ssize_t>(tp.size()));
    rd_kafka_header_add(hdrs, "content-type", -1, "application/json", -1);
    auto* opaque = new Done(std::move(done));
    const auto err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_KEY(e.root_id.data(), e.root_id.size()),
                                       RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                       RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err) {
        // Queue full or broken producer: refuse now, the channel redelivers later.
        rd_kafka_headers_destroy(hdrs);
        std::unique_ptr<Done> d(opaque);
        spdlog::warn("channel event not queued: {}", rd_kafka_err2str(err));
        (*d)(false);
    }
}

}  // namespace turnout
