#include "risk/risk_stage.hpp"

#include <spdlog/spdlog.h>

#include "codec/messages.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"

namespace turnout {

RiskStage::RiskStage(const Config& cfg, std::shared_ptr<RulesSource> rules, const std::string& instance)
    : cfg_(cfg),
      rules_(rules ? std::move(rules) : std::make_shared<RulesSource>(cfg)),
      stores_(cfg.kafka, kafka::role_state_dir(cfg, "risk", instance), "risk",
              {{"velocity", cfg.kafka.topics.velocity, int64_t{cfg.risk.velocity_retention_hours} * 3'600'000, false, {}}}) {}

void RiskStage::on_commit() {
    for (auto& [p, b] : books_) b.commit();
}

void RiskStage::on_abort() {
    for (auto& [p, b] : books_) b.abort();
}

void RiskStage::rebuild(int32_t partition, const RiskPolicy& policy) {
    auto& book = books_.insert_or_assign(partition, VelocityBook{}).first->second;
    const int64_t window = policy.max_velocity_window_ms();
    if (window <= 0) return;  // no velocity rule in force: nothing to count
    const int64_t since = now_ms() - window;
    VelocityEntry e;
    size_t bad = 0, n = 0;
    stores_.at(0, partition).scan([&](std::string_view, std::string_view value) {
        ++n;
        if (!decode_velocity_entry(value, e)) return void(++bad);
        if (e.at_ms >= since) book.add(e);
    });
    book.commit();
    if (bad) spdlog::warn("risk: partition {} velocity store: {} unreadable entries skipped", partition, bad);
    spdlog::info("risk: partition {} velocity rebuilt from {} store entries ({} keys)", partition, n, book.keys());
}

void RiskStage::on_assign(const kafka::PartitionSet& parts) {
    const auto rules = rules_->current();
    for (const auto& [topic, p] : parts) rebuild(p, rules->risk);
}

void RiskStage::on_revoke(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) books_.erase(p);
}

void RiskStage::on_tick(int64_t now, kafka::Emitter&) {
    if (now - last_expiry_ms_ < 10'000) return;
    last_expiry_ms_ = now;
    const int64_t window = rules_->current()->risk.max_velocity_window_ms();
    for (auto& [p, b] : books_) b.expire(now - window);
}

void RiskStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    const auto& topics = cfg_.kafka.topics;
    // Rules are swapped between batches only: one batch is scored by one rule set.
    const auto rules = rules_->current();
    const RiskScorer scorer(rules->risk);
    const bool count_velocity = rules->risk.has_velocity();
    for (const auto& rec : batch) {
        auto p = decode_routed(rec.value);
        if (!p) {
            out.emit(kafka::dlq_record(topics, rec, "risk", "undecodable_routed_payment", std::string(rec.value)));
            probe_.dlq("undecodable_routed_payment");
            continue;
        }
        const int64_t now = now_ms();
        auto& book = books_[rec.partition];
        p->risk = scorer.assess(*p, &book, now);
        p->times.scored_at = now;
        for (const auto& hit : p->risk->rules_hit) probe_.rule_hit(hit).Increment();
        const auto tp = rec.header(kafka::kTraceparent);
        if (p->risk->decision == "decline") {
            probe_.decision("decline").Increment();
            auto res = result_for(*p, ResultStatus::declined,
                                  {"risk_" + p->risk->rules_hit.front(), "declined by risk rules"}, p->times.scored_at);
            out.emit(kafka::result_record(topics, res, tp, p->home_partition));
            probe_.result("declined", "");
        } else {
            const auto& d = p->risk->decision;
            probe_.decision(d).Increment();
            if (count_velocity && d != "skipped") {
                // Counted in the same transaction as this record's offset.
                VelocityEntry e{now, p->request.amount.value, p->request.amount.currency, p->request.merchant.id,
                                p->request.instrument ? p->request.instrument->fingerprint : std::string()};
                book.add(e);
                stores_.at(0, rec.partition).put(p->request.payment_id, encode_velocity_entry(e), now, out);
            }
            const auto& channel = p->route.channels.front();
            out.emit({topics.channel(channel), p->request.root_id(), encode_routed(*p), kafka::descend_headers(tp)});
        }
        probe_.out();
    }
}

kafka::StageOptions risk_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "risk", instance, {cfg.kafka.topics.routed});
}

}  // namespace turnout
