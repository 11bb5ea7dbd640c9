#include "router/router_stage.hpp"

#include <spdlog/spdlog.h>


#include "codec/json_writer.hpp"
#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "kafka/changelog.hpp"
#include "kafka/records.hpp"
#include "metrics/log.hpp"
#include "model/time.hpp"

namespace turnout {

RouterStage::RouterStage(const Config& cfg, const CardVault& vault, std::shared_ptr<RulesSource> rules)
    : cfg_(cfg), vault_(vault), rules_(rules ? std::move(rules) : std::make_shared<RulesSource>(cfg)), health_(cfg.kafka) {
    for (const char* a : {"fallback", "split", "least_cost", "health", "health_explore", "original_channel"})
        plans_by_action_[a] = &Metrics::get().route_plans.Add({{"action", a}});
    health_.start();
}

void RouterStage::on_commit() {
    for (auto& [p, d] : dedupe_) d.commit();
}

void RouterStage::on_abort() {
    for (auto& [p, d] : dedupe_) d.abort();
}

void RouterStage::on_assign(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) {
        auto& d = dedupe_.insert_or_assign(p, PaymentIdDedupe(cfg_.dedupe_capacity)).first->second;
        const size_t n = kafka::replay_partition(cfg_.kafka, cfg_.kafka.topics.dedupe, p,
                                                 [&](std::string_view key, std::string_view) { d.remember(key); });
        spdlog::info("router: partition {} dedupe rebuilt from {} changelog records", p, n);
    }
}

void RouterStage::on_revoke(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) dedupe_.erase(p);
}

void RouterStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    // Rules are swapped between batches only: one batch is routed by one rule set.
    if (auto rs = rules_->current(); rs != rules_in_force_) {
        planner_.emplace(rs->routes, cfg_.channels);
        rules_in_force_ = std::move(rs);
    }
    health_now_ = health_.snapshot();
    for (const auto& rec : batch) route_one(rec, out);
}

void RouterStage::route_one(const kafka::Record& rec, kafka::Emitter& out) {
    const int64_t now = now_ms();
    const auto tp = rec.header(kafka::kTraceparent);
    auto reject_with = [&](const Rejection& rj, bool to_dlq) {
        if (to_dlq) {
            // A request may hold card data: the DLQ keeps it sealed, never in clear.
            const auto sealed = vault_.seal(rec.value);
            JsonWriter env(256);
            env.begin_object().key("sealed").begin_object().field("key_id", sealed.key_id);
            env.field("nonce", sealed.nonce).field("ciphertext", sealed.ciphertext).end_object().end_object();
            out.emit(kafka::dlq_record(cfg_.kafka.topics, rec, "router", rj.code, env.take()));
            probe_.dlq(rj.code);
        }
        log_payment_event(spdlog::level::info, to_dlq ? "request_dead_lettered" : "request_rejected", rj.payment_id, tp,
                          {{"reason", rj.code}, {"partition", std::to_string(rec.partition)},
                           {"offset", std::to_string(rec.offset)}});
        if (!rj.payment_id.empty()) {
            auto res = make_rejected_result(rj.payment_id, rj.root_id, {rj.code, rj.message}, now);
            out.emit(kafka::result_record(cfg_.kafka.topics, res, tp));
            probe_.result("rejected", "");
        }
        probe_.out();
    };

    auto decoded = decode_request(rec.value, cfg_.max_record_bytes);
    if (decoded.rejection) {
        reject_with(*decoded.rejection, true);
        return;
    }
    auto& req = *decoded.request;
    auto d = dedupe_.find(rec.partition);
    if (d == dedupe_.end()) d = dedupe_.emplace(rec.partition, PaymentIdDedupe(cfg_.dedupe_capacity)).first;
    if (!d->second.first_time(req.payment_id)) {
        // No second channel call; the one final result per payment_id stays the first one.
        reject_with({std::string(reject::duplicate_request), "payment_id was already received", req.payment_id,
                     req.root_id()},
                    false);
        return;
    }
    // Remembered in the same transaction as this record's offset.
    out.emit({cfg_.kafka.topics.dedupe, req.payment_id, {}, {}, rec.partition});
    if (is_follow_up(req.type) && !cfg_.channel(req.original->channel)) {
        reject_with({"unknown_channel", "original.channel names no configured channel", req.payment_id, req.root_id()},
                    false);
        return;
    }
    auto plan = planner_->plan(req, health_now_.get(), now);
    if (!plan) {
        reject_with({"no_route", "no routing rule matches this payment", req.payment_id, req.root_id()}, false);
        return;
    }
    if (req.instrument) protect_instrument(*req.instrument, vault_);
    if (auto it = plans_by_action_.find(plan->action); it != plans_by_action_.end()) it->second->Increment();

    RoutedPayment routed{std::move(req), std::move(*plan), std::nullopt, {}};
    routed.times.created_at = routed.request.created_at_ms;
    routed.times.received_at = now;
    routed.times.routed_at = now_ms();
    const auto& q = routed.request;
    // Keyed by instrument so velocity state for a card lives in one risk partition.
    std::string key = q.instrument && !q.instrument->fingerprint.empty() ? q.instrument->fingerprint : q.root_id();
    out.emit({cfg_.kafka.topics.routed, std::move(key), encode_routed(routed), kafka::descend_headers(rec)});
    probe_.out();
}

kafka::StageOptions router_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "router", instance, {cfg.kafka.topics.requests});
}

}  // namespace turnout
