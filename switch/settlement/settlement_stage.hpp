#pragma once
// The settlement stage: payments.results → clearing records → batches per (channel,
// currency, cut-off window) → at window end + grace a clearing file under output_dir and a
// summary on settlement.batches. Batches are partition-local (their id ends in p<N>): every
// assignment and close goes to partition N of the settlement changelog in the same
// transaction as the input offsets, and is replayed when the partition is assigned, so each
// clearing record lands in exactly one batch across crashes and rebalances.
#include <map>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/metrics.hpp"
#include "settlement/batch_book.hpp"
#include "settlement/fees.hpp"

namespace turnout {

class SettlementStage : public kafka::StageLogic {
public:
    // `hmac_key` signs the clearing files (raw bytes, from the keys file).
    SettlementStage(const Config& cfg, std::string hmac_key);
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;
    void on_commit() override;
    void on_abort() override;
    void on_assign(const kafka::PartitionSet& parts) override;
    void on_revoke(const kafka::PartitionSet& parts) override;

private:
    BatchBook& book(int32_t partition);

    const Config& cfg_;
    std::string hmac_key_;
    CutoffPlan cutoffs_;
    FeeSchedule fees_;
    std::map<int32_t, BatchBook> books_;  // by results partition
    StageProbe probe_{"settlement"};
    prometheus::Gauge& open_gauge_;
    prometheus::Gauge& overdue_gauge_;
};

kafka::StageOptions settlement_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
