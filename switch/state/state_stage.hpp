#pragma once
// The state role: payments.results → each payment's life cycle (amounts, channel and
// references, status, history) in the compacted payments.state topic (key = root id, same
// partition as the result). The table is partition-local: on assignment a partition's
// table is replayed from payments.state. It keeps each payment as its committed JSON and
// decodes only the ones a transaction touches. It serves `GET /payments/{id}` from what is
// committed; an id whose partition another instance owns is read from payments.state.
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "state/life_cycle.hpp"
#include "state/status_server.hpp"

namespace turnout {

class StateStage : public kafka::StageLogic {
public:
    // `serve_http` false: no endpoint (tests that only need the topic).
    explicit StateStage(const Config& cfg, bool serve_http = true);
    ~StateStage() override;

    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_commit() override;
    void on_abort() override;
    void on_assign(const kafka::PartitionSet& parts) override;
    void on_revoke(const kafka::PartitionSet& parts) override;

    // What GET /payments/{id} answers: a root id or the payment_id of one of its follow-ups.
    StatusReply lookup(std::string_view payment_id);
    int http_port() const { return server_ ? server_->port() : 0; }

private:
    struct Stored {
        int32_t partition = 0;
        std::string json;  // the payments.state value
    };

    const Config& cfg_;
    // Payments touched since the last commit, decoded; the rest live only as their JSON.
    std::unordered_map<std::string, std::pair<int32_t, PaymentLifeCycle>> working_;
    std::unordered_map<std::string, Stored> pending_;  // written since the last commit

    // Committed view, shared with the HTTP thread.
    std::mutex mu_;
    std::unordered_map<std::string, Stored> published_;            // root id → committed state
    std::unordered_map<std::string, std::string> follow_up_root_;  // follow-up payment_id → root id
    std::set<int32_t> owned_;
    int32_t partitions_ = 0;

    std::unique_ptr<StatusServer> server_;
    StageProbe probe_{"state"};
};

kafka::StageOptions state_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
