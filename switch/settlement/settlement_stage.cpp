#include "settlement/settlement_stage.hpp"

#include <spdlog/spdlog.h>

#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"
#include "kafka/changelog.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "settlement/batch_log.hpp"
#include "settlement/clearing_file.hpp"

namespace turnout {

SettlementStage::SettlementStage(const Config& cfg, std::string hmac_key)
    : cfg_(cfg),
      hmac_key_(std::move(hmac_key)),
      cutoffs_(CutoffPlan::from(cfg.settlement)),
      fees_(cfg.channels),
      open_gauge_(Metrics::get().open_batches.Add({})),
      overdue_gauge_(Metrics::get().overdue_batches.Add({})) {}

BatchBook& SettlementStage::book(int32_t partition) {
    auto it = books_.find(partition);
    if (it == books_.end())
        it = books_
                 .try_emplace(partition, cutoffs_, int64_t{cfg_.settlement.grace_seconds} * 1000,
                              "p" + std::to_string(partition))
                 .first;
    return it->second;
}

void SettlementStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    const int64_t now = now_ms();
    for (const auto& rec : batch) {
        // Validated before anything of it reaches a batch: a forged or malformed result goes to
        // the DLQ with its reason and field, and the stage goes on.
        auto checked = decode_result_checked(rec.value, rec.key, now);
        if (!checked.result) {
            out.emit(kafka::dead_letter_result(cfg_.kafka.topics, rec, "settlement", *checked.problem));
            probe_.dlq(std::string(checked.problem->reason));
            continue;
        }
        auto cr = clearing_record_for(*checked.result);
        if (!cr) continue;
        cr->fee = fees_.fee_for(*cr);  // fixed at assignment and logged, so a replay keeps it
        const auto& b = book(rec.partition).add(*cr, now);
        BatchLogEntry e{BatchLogEntry::Op::add, cr->channel, cr->currency, b.summary.window_start_ms, *cr};
        out.emit({cfg_.kafka.topics.settlement_log, b.summary.batch_id, encode_batch_log(e), {}, rec.partition});
        Metrics::get().settled_minor.Add({{"channel", cr->channel}, {"currency", cr->currency}}).Increment();
        Metrics::get()
            .settled_amount.Add({{"channel", cr->channel}, {"currency", cr->currency}, {"direction", cr->amount > 0 ? "debit" : "credit"}})
            .Increment(static_cast<double>(cr->amount > 0 ? cr->amount : -cr->amount));
    }
}

void SettlementStage::on_tick(int64_t now_ms, kafka::Emitter& out) {
    size_t open = 0, overdue = 0;
    for (auto& [partition, bk] : books_) {
        for (auto& b : bk.close_due(now_ms)) {
            write_clearing_files(cfg_.settlement.output_dir, b, hmac_key_);
            b.summary.closed_at_ms = now_ms;
            out.emit({cfg_.kafka.topics.batches, b.summary.batch_id, encode_batch_summary(b.summary),
                      kafka::descend_headers(std::string_view{})});
            BatchLogEntry close{BatchLogEntry::Op::close, b.summary.channel, b.summary.currency,
                                b.summary.window_start_ms, {}};
            out.emit({cfg_.kafka.topics.settlement_log, b.summary.batch_id, encode_batch_log(close), {}, partition});
            probe_.out();
            Metrics::get().batches_closed.Add({{"channel", b.summary.channel}, {"currency", b.summary.currency}}).Increment();
            spdlog::info("settlement: closed batch {} records={} net={} fees={} {}", b.summary.batch_id,
                         b.summary.record_count, b.summary.net, b.summary.fee_total, b.summary.currency);
        }
        open += bk.open_batches();
        overdue += bk.overdue_batches(now_ms);
    }
    open_gauge_.Set(static_cast<double>(open));
    overdue_gauge_.Set(static_cast<double>(overdue));
}

void SettlementStage::on_commit() {
    for (auto& [p, b] : books_) b.checkpoint();
}

void SettlementStage::on_abort() {
    for (auto& [p, b] : books_) b.rollback();
}

void SettlementStage::on_assign(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) {
        books_.erase(p);
        auto& bk = book(p);
        size_t bad = 0;
        const size_t n = kafka::replay_partition(cfg_.kafka, cfg_.kafka.topics.settlement_log, p,
                                                 [&](std::string_view, std::string_view value) {
                                                     auto e = decode_batch_log(value);
                                                     if (!e) return void(++bad);
                                                     if (e->op == BatchLogEntry::Op::add)
                                                         bk.replay_add(e->record, e->window_start_ms);
                                                     else
                                                         bk.replay_close(e->channel, e->currency, e->window_start_ms);
                                                 });
        if (bad) spdlog::error("settlement: partition {}: {} unreadable changelog records skipped", p, bad);
        spdlog::info("settlement: partition {} rebuilt from {} changelog records, {} open batches", p, n,
                     bk.open_batches());
    }
}

void SettlementStage::on_revoke(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) books_.erase(p);
}

kafka::StageOptions settlement_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "settlement", instance, {cfg.kafka.topics.results});
}

}  // namespace turnout
