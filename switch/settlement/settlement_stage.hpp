#pragma once
// The settlement stage: payments.results → clearing records → batches per (channel,
// currency, cut-off window) → at window end + grace a clearing file under output_dir and a
// summary on settlement.batches. Batches are partition-local (their id ends in p<N>): every
// assignment and close is an entry of the partition-local store `batches`
// (kafka/state_store.hpp; changelog settlement.log, partition N) written in the same
// transaction as the input offsets, so each clearing record lands in exactly one batch
// across crashes and rebalances. An assignment is keyed `<batch id>/<index in the batch>`
// and forgotten locally once its batch closes; a close is keyed `<batch id>` and kept for
// settlement.log_retention_hours (late records go to the next open window). On assignment
// the open batches are rebuilt from the store, not from the whole changelog.
#include <map>
#include <string>
#include <unordered_set>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "settlement/batch_book.hpp"
#include "settlement/clearing_file.hpp"
#include "settlement/settlement_probe.hpp"
#include "domain/fees.hpp"

namespace turnout {

class SettlementStage : public kafka::StageLogic {
public:
    // `sign` signs the clearing files (CardVault::settlement_sign, or hmac_signer in tests).
    SettlementStage(const Config& cfg, ClearingSigner sign, const std::string& instance = "0");
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override;
    void on_tick(int64_t now_ms, kafka::Emitter& out) override;
    void on_commit() override;
    void on_abort() override;
    void on_assign(const kafka::PartitionSet& parts) override;
    void on_revoke(const kafka::PartitionSet& parts) override;
    kafka::StoreSet* stores() override { return &stores_; }
    // The store's secondary keys: assignments under "a/", closes under "c/".
    static void index_batch_log(std::string_view key, std::string_view value, std::vector<std::string>& out);
    static std::string add_key(const std::string& batch_id, size_t index);

private:
    BatchBook& book(int32_t partition);

    const Config& cfg_;
    ClearingSigner sign_;
    CutoffPlan cutoffs_;
    FeeSchedule fees_;
    std::map<int32_t, BatchBook> books_;  // by results partition
    // By results partition: payment_ids whose records are in batches the DR takeover adopted
    // from the primary's clearing files (the store's settled/ entries); usually none.
    std::map<int32_t, std::unordered_set<std::string>> settled_elsewhere_;
    kafka::StoreSet stores_;
    SettlementProbe probe_;
};

kafka::StageOptions settlement_options(const Config& cfg, const std::string& instance);

}  // namespace turnout
