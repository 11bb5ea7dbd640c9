#include "settlement/settlement_stage.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <set>

#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "settlement/batch_log.hpp"
#include "settlement/clearing_file.hpp"

namespace turnout {

void SettlementStage::index_batch_log(std::string_view key, std::string_view, std::vector<std::string>& out) {
    if (key.starts_with(kSettledKeyPrefix))
        out.push_back("s/" + std::string(key));
    else
        out.push_back((key.find('/') != std::string_view::npos ? "a/" : "c/") + std::string(key));
}

std::string SettlementStage::add_key(const std::string& batch_id, size_t index) {
    char n[24];
    std::snprintf(n, sizeof n, "%010zu", index);  // key order = the batch's own order
    return batch_id + "/" + n;
}

SettlementStage::SettlementStage(const Config& cfg, ClearingSigner sign, const std::string& instance)
    : cfg_(cfg),
      sign_(std::move(sign)),
      cutoffs_(CutoffPlan::from(cfg.settlement)),
      fees_(cfg.channels),
      stores_(cfg.kafka, kafka::role_state_dir(cfg, "settlement", instance), "settlement",
              {{"batches", cfg.kafka.topics.settlement_log, int64_t{cfg.settlement.log_retention_hours} * 3'600'000,
                false, &SettlementStage::index_batch_log}}) {}

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
        if (auto s = settled_elsewhere_.find(rec.partition);
            s != settled_elsewhere_.end() && s->second.count(cr->payment_id))
            continue;  // in a batch the DR takeover adopted from the primary's clearing file
        cr->fee = fees_.fee_for(*cr);  // fixed at assignment and logged, so a replay keeps it
        const auto& b = book(rec.partition).add(*cr, now);
        BatchLogEntry e{BatchLogEntry::Op::add, cr->channel, cr->currency, b.summary.window_start_ms, *cr};
        stores_.at(0, rec.partition).put(add_key(b.summary.batch_id, b.records.size() - 1), encode_batch_log(e), now, out);
        auto& series = probe_.settled(cr->channel, cr->currency);
        series.records.Increment();
        (cr->amount > 0 ? series.debit : series.credit).Increment(static_cast<double>(cr->amount > 0 ? cr->amount : -cr->amount));
    }
}

void SettlementStage::on_tick(int64_t now_ms, kafka::Emitter& out) {
    size_t open = 0, overdue = 0;
    for (auto& [partition, bk] : books_) {
        for (auto& b : bk.close_due(now_ms)) {
            write_clearing_files(cfg_.settlement.output_dir, b, sign_);
            b.summary.closed_at_ms = now_ms;
            out.emit({cfg_.kafka.topics.batches, b.summary.batch_id, encode_batch_summary(b.summary),
                      kafka::descend_headers(std::string_view{})});
            BatchLogEntry close{BatchLogEntry::Op::close, b.summary.channel, b.summary.currency,
                                b.summary.window_start_ms, {}};
            auto& st = stores_.at(0, partition);
            st.put(b.summary.batch_id, encode_batch_log(close), now_ms, out);
            for (size_t i = 0; i < b.records.size(); ++i) st.forget(add_key(b.summary.batch_id, i));
            probe_.out();
            probe_.settled(b.summary.channel, b.summary.currency).batches.Increment();
            spdlog::info("settlement: closed batch {} records={} net={} fees={} {}", b.summary.batch_id,
                         b.summary.record_count, b.summary.net, b.summary.fee_total, b.summary.currency);
        }
        open += bk.open_batches();
        overdue += bk.overdue_batches(now_ms);
    }
    probe_.open_batches.Set(static_cast<double>(open));
    probe_.overdue_batches.Set(static_cast<double>(overdue));
}

void SettlementStage::on_commit() {
    for (auto& [p, b] : books_) b.checkpoint();
}

void SettlementStage::on_abort() {
    for (auto& [p, b] : books_) b.rollback();
}

void SettlementStage::on_assign(const kafka::PartitionSet& parts) {
    // The store is restored: the open batches are rebuilt from it (closes first, then the
    // assignments of batches still open, in each batch's order).
    for (const auto& [topic, p] : parts) {
        books_.erase(p);
        auto& bk = book(p);
        auto& st = stores_.at(0, p);
        size_t bad = 0, records = 0;
        std::set<std::string> closed;
        auto& settled = settled_elsewhere_[p];
        settled.clear();
        st.scan_index("s/", [&](std::string_view, std::string_view key) {
            settled.emplace(key.substr(kSettledKeyPrefix.size()));
        });
        if (settled.empty()) settled_elsewhere_.erase(p);
        st.scan_index("c/", [&](std::string_view, std::string_view key) {
            auto v = st.get_committed(key);
            auto e = v ? decode_batch_log(*v) : std::nullopt;
            if (!e || e->op != BatchLogEntry::Op::close) return void(++bad);
            bk.replay_close(e->channel, e->currency, e->window_start_ms);
            closed.emplace(key);
        });
        st.scan_index("a/", [&](std::string_view, std::string_view key) {
            const std::string batch(key.substr(0, key.find('/')));
            if (closed.count(batch)) return st.forget(key);  // restored from the changelog tail
            auto v = st.get_committed(key);
            auto e = v ? decode_batch_log(*v) : std::nullopt;
            if (!e || e->op != BatchLogEntry::Op::add) return void(++bad);
            bk.replay_add(e->record, e->window_start_ms);
            ++records;
        });
        if (bad) spdlog::error("settlement: partition {}: {} unreadable store entries skipped", p, bad);
        spdlog::info("settlement: partition {}: {} open batches ({} records) rebuilt from the store", p,
                     bk.open_batches(), records);
    }
}

void SettlementStage::on_revoke(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) {
        books_.erase(p);
        settled_elsewhere_.erase(p);
    }
}

kafka::StageOptions settlement_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "settlement", instance, {cfg.kafka.topics.results});
}

}  // namespace turnout
