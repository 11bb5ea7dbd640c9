#pragma once
// The state role: payments.results → each payment's life cycle (amounts, channel and
// references, status, history) in the compacted payments.state topic (key = root id, same
// partition as the result). The table is a partition-local state store
// (kafka/state_store.hpp) with payments.state as its changelog and an index of follow-up
// payment_ids; entries live state.retention_days after the payment's last event. Only the
// payments a transaction touches are decoded in memory. `GET /payments/{id}` is a point
// lookup in the committed store; an id whose partition another instance owns is read from
// payments.state.
#include <memory>
#include <atomic>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "domain/life_cycle.hpp"
#include "state/state_probe.hpp"
#include "state/status_server.hpp"

namespace turnout {

class StateStage : public kafka::StageLogic {
public:
    // `serve_http` false: no endpoint (tests that only need the topic).
    explicit StateStage(const Config& cfg, bool serve_http = true, const std::string& instance = "0");
    ~StateStage() override;

    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_commit() override;
    void on_abort() override;
    void on_start() override;  // the partition count of payments.results, for look-ups
    void on_revoke(const kafka::PartitionSet& parts) override;
    kafka::StoreSet* stores() override { return &stores_; }
    // The store's secondary keys of a payments.state value: its follow-ups' payment_ids.
    static void index_follow_ups(std::string_view key, std::string_view value, std::vector<std::string>& out);

    // What GET /payments/{id} answers: a root id or the payment_id of one of its follow-ups.
    StatusReply lookup(std::string_view payment_id);
    int http_port() const { return server_ ? server_->port() : 0; }

private:
    const Config& cfg_;
    // Payments touched since the last commit, decoded; the rest live only in the store.
    std::unordered_map<std::string, std::pair<int32_t, PaymentLifeCycle>> working_;
    kafka::StoreSet stores_;  // root id → payments.state value, by results partition
    std::atomic<int32_t> partitions_{0};

    std::unique_ptr<StatusServer> server_;
    StateProbe probe_;
};

kafka::StageOptions state_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
