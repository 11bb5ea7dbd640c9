#pragma once
// The settlement stage: payments.results → clearing records → batches per (channel,
// currency, cut-off window) → at window end + grace a clearing file under output_dir and a
// summary on settlement.batches.
#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "settlement/batch_book.hpp"

namespace turnout {

class SettlementStage : public kafka::StageLogic {
public:
    SettlementStage(const Config& cfg, const std::string& instance);
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;
    void on_commit() override { book_.checkpoint(); }
    void on_abort() override { book_.rollback(); }

private:
    const Config& cfg_;
    BatchBook book_;
    StageProbe probe_{"settlement"};
};

kafka::StageOptions settlement_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
