#pragma once
// The connector stage of one channel: payments.channel.<id> → call the channel → a final
// result on payments.results, or on a soft failure the next channel of the plan.
#include <memory>

#include "config/config.hpp"
#include "circuit_breaker.hpp"
#include "channel_events.hpp"
#include "connector.hpp"
#include "connector_probe.hpp"
#include "pending_book.hpp"
#include "health_publisher.hpp"
#include "kafka/stage_probe.hpp"
#include "kafka/stage_runner.hpp"

namespace turnout {

class ConnectorStage : public kafka::StageLogic {
public:
    // `card_keys`: the keys the process loaded for this channel (an iso8583 channel opens field 2).
    ConnectorStage(const Config& cfg, const ChannelConfig& channel, const std::string& instance = "0",
                   const CardVault* card_keys = nullptr);
    // The connector (and its webhook listener) stops before the event publisher it feeds.
    ~ConnectorStage() override { connector_.reset(); }
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    // Asynchronous channels: pending payments are replayed from payments.pending, resolved
    // by channel events on the channel topic or, past their deadline, by a status query.
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;
    void on_commit() override {
        pending_.commit();
        connector_->committed();
    }
    void on_abort() override {
        pending_.abort();
        connector_->aborted();
    }
    // The webhook listener and its event publisher (asynchronous channels), before the first record.
    void on_start() override;
    void on_assign(const kafka::PartitionSet& parts) override;
    // Asynchronous channels keep their pending payments in a store (changelog payments.pending,
    // shared by the channels: each keeps only its own records).
    kafka::StoreSet* stores() override { return pending_store_.get(); }
    void on_revoke(const kafka::PartitionSet& parts) override;

private:
    std::vector<char> refuse_pins(std::span<const RoutedPayment> batch) const;
    // connector_->call() for the payments not `refused`; the refused get `pin_not_supported`.
    std::vector<ChannelOutcome> call_except(const std::vector<RoutedPayment>& batch, const std::vector<char>& refused);

    // The result, or on a soft failure the next channel of the plan.
    void conclude(RoutedPayment& p, const ChannelOutcome& o, std::string_view traceparent, kafka::Emitter& out,
                  int64_t now);
    void resolve_pending(const std::string& payment_id, const ChannelOutcome& o, kafka::Emitter& out, int64_t now);
    void on_channel_event(const kafka::Record& rec, kafka::Emitter& out, int64_t now);
    // Pending payments past their give-up age: cancel at the channel, then the result.
    void give_up(const std::vector<std::string>& ids, kafka::Emitter& out, int64_t now);

    const Config& cfg_;
    const ChannelConfig& channel_;
    std::unique_ptr<Connector> connector_;
    StageProbe probe_;
    ConnectorProbe m_;  // this channel's series
    CircuitBreaker breaker_;
    PendingBook pending_;
    std::unique_ptr<kafka::StoreSet> pending_store_;
    PendingPolicy policy_;
    std::unique_ptr<ChannelEventPublisher> events_;
    ChannelHealthPublisher health_;
};

kafka::StageOptions connector_options(const Config& cfg, const std::string& channel_id, const std::string& instance);

}  // namespace turnout
