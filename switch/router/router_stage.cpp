#include "router/router_stage.hpp"

#include <spdlog/spdlog.h>


#include "codec/json_writer.hpp"
#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "kafka/records.hpp"
#include "metrics/log.hpp"
#include "model/time.hpp"

namespace turnout {

RouterStage::RouterStage(const Config& cfg, const CardVault& vault, std::shared_ptr<RulesSource> rules,
                         const std::string& instance)
    : cfg_(cfg),
      vault_(vault),
      rules_(rules ? std::move(rules) : std::make_shared<RulesSource>(cfg)),
      health_(cfg.kafka) {
    // Each payment's ledger entry for state.retention_days after its last event (compacted):
    // it also answers whether a payment_id was seen, so there is no separate dedupe store.
    kafka::StoreSpec ledger{"ledger", cfg.kafka.topics.lifecycle, cfg.state.retention_ms, true,
                            &LifeCycleGate::index_held};
    stores_ = std::make_unique<kafka::StoreSet>(cfg.kafka, kafka::role_state_dir(cfg, "router", instance), "router",
                                                std::vector<kafka::StoreSpec>{ledger});
    life_cycle_.attach(stores_.get(), kLedger);
}

void RouterStage::on_start() { health_.start(); }

RouterStage::~RouterStage() = default;

void RouterStage::on_commit() { life_cycle_.on_commit(); }

void RouterStage::on_abort() { life_cycle_.on_abort(); }

void RouterStage::on_assign(const kafka::PartitionSet& parts) { life_cycle_.on_assign(parts); }

void RouterStage::on_revoke(const kafka::PartitionSet& parts) { life_cycle_.on_revoke(parts); }

void RouterStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    // Rules are swapped between batches only: one batch is routed by one rule set.
    if (auto rs = rules_->current(); rs != rules_in_force_) {
        planner_.emplace(rs->routes, cfg_.channels);
        rules_in_force_ = std::move(rs);
    }
    health_now_ = health_.snapshot();
    for (const auto& rec : batch) route_one(rec, out);
    life_cycle_.flush(out);  // the ledger changes of this batch, in its transaction
}

void RouterStage::on_tick(int64_t now_ms, kafka::Emitter& out) {
    life_cycle_.on_tick(now_ms, [&](int32_t p, std::string_view v, std::string_view tp) { route_held(p, v, tp, out); });
    life_cycle_.flush(out);
}

void RouterStage::route_held(int32_t partition, std::string_view value, std::string_view traceparent,
                             kafka::Emitter& out) {
    kafka::Record rec{cfg_.kafka.topics.requests, partition, -1, {}, value, nullptr};
    route_one(rec, out, traceparent);
}

std::string RouterStage::dlq_envelope(std::string_view value) const {
    // A request may hold card data: the DLQ keeps it sealed, never in clear. A record larger
    // than any request may be keeps only its first max_record_bytes (sealed) and the digest
    // of the whole, so the envelope always fits a Kafka record.
    const bool truncated = value.size() > cfg_.max_record_bytes;
    const auto sealed = vault_.seal(truncated ? value.substr(0, cfg_.max_record_bytes) : value, {kDlqField, {}});
    JsonWriter env(256);
    env.begin_object().key("sealed").begin_object().field("key_id", sealed.key_id);
    env.field("nonce", sealed.nonce).field("ciphertext", sealed.ciphertext).field("aad", sealed.aad).end_object();
    if (truncated)
        env.field("truncated", true)
            .field("original_bytes", static_cast<int64_t>(value.size()))
            .field("sha256", kafka::sha256_hex_of(value));
    return env.end_object().take();
}

void RouterStage::route_one(const kafka::Record& rec, kafka::Emitter& out, std::string_view held_traceparent) {
    if (rec.topic == cfg_.kafka.topics.results) {  // a result: the life-cycle ledger's input
        life_cycle_.on_result(rec, [&](int32_t p, std::string_view v, std::string_view tp) { route_held(p, v, tp, out); });
        return;
    }
    const int64_t now = now_ms();
    // A header that is not a W3C traceparent (any size, any bytes) is dropped here, so it
    // reaches no log line, held follow-up or record.
    const auto tp_in = held_traceparent.empty() ? rec.header(kafka::kTraceparent) : held_traceparent;
    const std::string_view tp = kafka::valid_traceparent(tp_in) ? tp_in : std::string_view{};
    auto reject_with = [&](const Rejection& rj, bool to_dlq) {
        if (to_dlq) {
            out.emit(kafka::dlq_record(cfg_.kafka.topics, rec, "router", rj.code, dlq_envelope(rec.value)));
            probe_.dlq(rj.code);
        }
        log_payment_event(spdlog::level::info, to_dlq ? "request_dead_lettered" : "request_rejected", rj.payment_id, tp,
                          {{"reason", rj.code}, {"partition", std::to_string(rec.partition)},
                           {"offset", std::to_string(rec.offset)}});
        if (!rj.payment_id.empty()) {
            auto res = make_rejected_result(rj.payment_id, rj.root_id, {rj.code, rj.message}, now);
            out.emit(kafka::result_record(cfg_.kafka.topics, res, tp, rec.partition));
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
    if (decoded.masked_card_numbers > 0) {
        // A card number in metadata or customer.id: masked, so it never leaves the router in
        // clear; the sender should be told to stop putting it there.
        probe_.masked_card_numbers.Increment(static_cast<double>(decoded.masked_card_numbers));
        log_payment_event(spdlog::level::warn, "card_number_masked", req.payment_id, tp,
                          {{"count", std::to_string(decoded.masked_card_numbers)}});
    }
    // A payment's records must all be keyed by its root id: the key picks the partition, and
    // the life-cycle ledger is per partition. Under another key the same
    // payment_id would meet a ledger that never saw it. (A held follow-up routed again has no
    // record of its own: it was checked when it arrived.)
    if (rec.offset >= 0 && rec.key != req.root_id()) {
        reject_with({std::string(reject::key_mismatch), "the record key must be the payment's root id",
                     req.payment_id, req.root_id()},
                    true);
        return;
    }
    if (life_cycle_.hold_if_waiting(rec.partition, rec, req, tp)) return;  // its original has no result yet
    // The ledger remembers every payment it opened, and every follow-up in flight, answered or
    // refused, for state.retention_days: a payment_id sent again, however long after, is
    // never executed twice. (A request refused before it reached a channel, for no route or
    // an unknown original, is not remembered: sent again, it is decided again.)
    if (life_cycle_.answered(rec.partition, req)) {
        // No second channel call; the one final result per payment_id stays the first one.
        reject_with({std::string(reject::duplicate_request), "payment_id was already received", req.payment_id,
                     req.root_id()},
                    false);
        return;
    }
    if (life_cycle_.refuse(rec.partition, req, tp, out)) {
        probe_.result("rejected", "");
        probe_.out();
        return;
    }
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
    if (req.instrument) protect_instrument(*req.instrument, vault_, req.payment_id);
    if (auto* c = probe_.plan(plan->action)) c->Increment();

    RoutedPayment routed{std::move(req), std::move(*plan), std::nullopt, {}};
    routed.times.created_at = routed.request.created_at_ms;
    routed.times.received_at = now;
    routed.times.routed_at = now_ms();
    routed.home_partition = rec.partition;
    const auto& q = routed.request;
    // Keyed by instrument so velocity state for a card lives in one risk partition.
    std::string key = q.instrument && !q.instrument->fingerprint.empty() ? q.instrument->fingerprint : q.root_id();
    life_cycle_.admitted(rec.partition, q);
    out.emit({cfg_.kafka.topics.routed, std::move(key), encode_routed(routed), kafka::descend_headers(tp)});
    probe_.out();
}

kafka::StageOptions router_options(const Config& cfg, const std::string& instance) {
    // payments.results too (the life-cycle gate); range assignment gives one instance the
    // same partition of both topics.
    auto o = kafka::stage_options(cfg.kafka, "router", instance, {cfg.kafka.topics.requests, cfg.kafka.topics.results});
    o.consumer_overrides["partition.assignment.strategy"] = "range";
    return o;
}

}  // namespace turnout
