#include "settlement/settlement_stage.hpp"

#include <spdlog/spdlog.h>

#include "codec/messages.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "settlement/clearing_file.hpp"

namespace turnout {

SettlementStage::SettlementStage(const Config& cfg, const std::string& instance)
    : cfg_(cfg),
      book_(int64_t{cfg.settlement.window_seconds} * 1000, int64_t{cfg.settlement.grace_seconds} * 1000, instance) {}

void SettlementStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    const int64_t now = now_ms();
    for (const auto& rec : batch) {
        auto res = decode_result(rec.value);
        if (!res) {
            out.emit(kafka::dlq_record(cfg_.kafka.topics, rec, "settlement", "undecodable_result", std::string(rec.value)));
            probe_.dlq("undecodable_result");
            continue;
        }
        if (auto cr = clearing_record_for(*res)) {
            const auto& b = book_.add(*cr, now);
            Metrics::get().settled_minor.Add({{"channel", b.summary.channel}, {"currency", b.summary.currency}}).Increment();
        }
    }
}

void SettlementStage::on_tick(int64_t now_ms, kafka::Emitter& out) {
    for (auto& b : book_.close_due(now_ms)) {
        write_clearing_file(cfg_.settlement.output_dir, b);
        b.summary.closed_at_ms = now_ms;
        out.emit({cfg_.kafka.topics.batches, b.summary.batch_id, encode_batch_summary(b.summary),
                  kafka::descend_headers(std::string_view{})});
        probe_.out();
        Metrics::get().batches_closed.Add({{"channel", b.summary.channel}, {"currency", b.summary.currency}}).Increment();
        spdlog::info("settlement: closed batch {} records={} net={} {}", b.summary.batch_id, b.summary.record_count,
                     b.summary.net, b.summary.currency);
    }
}

kafka::StageOptions settlement_options(const Config& cfg, const std::string& instance) {
    kafka::StageOptions o;
    o.name = "settlement";
    o.group_id = cfg.kafka.name_prefix + "turnout.settlement";
    o.transactional_id = cfg.kafka.name_prefix + "turnout.settlement." + instance;
    o.topics = {cfg.kafka.topics.results};
    o.commit_every_records = cfg.kafka.commit_every_records;
    o.commit_every_ms = cfg.kafka.commit_every_ms;
    return o;
}

}  // namespace turnout
