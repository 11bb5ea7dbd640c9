#include "state/state_stage.hpp"

#include <spdlog/spdlog.h>

#include "codec/json_writer.hpp"
#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"
#include "kafka/changelog.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "state/status_query.hpp"

namespace turnout {
namespace {
std::string error_body(std::string_view code, std::string_view message) {
    JsonWriter w(128);
    return w.begin_object().field("error", code).field("message", message).end_object().take();
}
}  // namespace

StateStage::StateStage(const Config& cfg, bool serve_http) : cfg_(cfg) {
    if (serve_http) {
        server_ = std::make_unique<StatusServer>(cfg.state.http_address, cfg.state.http_port,
                                                 [this](std::string_view id) { return lookup(id); });
        spdlog::info("state: serving GET /payments/{{id}} on {}:{}", cfg.state.http_address, server_->port());
    }
}

StateStage::~StateStage() { server_.reset(); }  // the HTTP thread stops before the tables go

void StateStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    std::set<std::string> changed;
    const int64_t now = now_ms();
    for (const auto& rec : batch) {
        // Validated before it touches a life cycle: a forged or malformed result goes to the
        // DLQ with its reason and field, and the stage goes on.
        auto checked = decode_result_checked(rec.value, rec.key, now);
        if (!checked.result) {
            out.emit(kafka::dead_letter_result(cfg_.kafka.topics, rec, "state", *checked.problem));
            probe_.dlq(std::string(checked.problem->reason));
            continue;
        }
        auto* res = &*checked.result;
        if (res->root_id.empty()) res->root_id = res->payment_id;
        auto w = working_.find(res->root_id);
        if (w == working_.end()) {
            std::optional<PaymentLifeCycle> lc;
            {
                std::lock_guard lock(mu_);
                if (auto it = published_.find(res->root_id); it != published_.end()) lc = decode_life_cycle(it->second.json);
            }
            if (!lc) lc = life_cycle_from_result(*res);
            if (!lc) continue;  // a duplicate answer, or a follow-up of an original never seen
            w = working_.emplace(res->root_id, std::make_pair(rec.partition, std::move(*lc))).first;
        }
        if (apply_result(w->second.second, *res, true)) changed.insert(res->root_id);
    }
    for (const auto& root : changed) {
        const auto& [p, lc] = working_.at(root);
        auto value = encode_life_cycle(lc);
        out.emit({cfg_.kafka.topics.state, root, value, kafka::descend_headers(std::string_view{}), p});
        pending_[root] = {p, std::move(value)};
        probe_.out();
    }
}

void StateStage::on_commit() {
    std::lock_guard lock(mu_);
    for (auto& [root, stored] : pending_) {
        if (auto w = working_.find(root); w != working_.end())
            for (const auto& e : w->second.second.history)
                if (e.payment_id != root) follow_up_root_[e.payment_id] = root;
        published_[root] = std::move(stored);
    }
    pending_.clear();
    working_.clear();
}

void StateStage::on_abort() {
    // Back to the committed view: the aborted results are delivered again.
    pending_.clear();
    working_.clear();
}

void StateStage::on_assign(const kafka::PartitionSet& parts) {
    if (partitions_ == 0) {
        const int32_t n = partition_count(cfg_.kafka, cfg_.kafka.topics.results);
        std::lock_guard lock(mu_);
        partitions_ = n;
    }
    for (const auto& [topic, p] : parts) {
        std::unordered_map<std::string, std::string> latest;
        const size_t n = kafka::replay_partition(cfg_.kafka, cfg_.kafka.topics.state, p,
                                                 [&](std::string_view key, std::string_view value) {
                                                     latest.insert_or_assign(std::string(key), std::string(value));
                                                 });
        std::lock_guard lock(mu_);
        size_t unreadable = 0;
        for (auto& [root, value] : latest) {
            // payments.state is read back, not trusted: a value that does not decode, or that
            // is filed under another payment's key, is left out (and counted).
            auto lc = decode_life_cycle(value);
            if (!lc || lc->root_id != root) {
                unreadable += !value.empty();
                continue;
            }
            for (const auto& e : lc->history)
                if (e.payment_id != root) follow_up_root_[e.payment_id] = root;
            published_[root] = {p, encode_life_cycle(*lc)};
        }
        if (unreadable) spdlog::warn("state: partition {}: {} unreadable payments.state records left out", p, unreadable);
        owned_.insert(p);
        spdlog::info("state: partition {} rebuilt from {} payments.state records ({} payments)", p, n, latest.size());
    }
}

void StateStage::on_revoke(const kafka::PartitionSet& parts) {
    std::set<int32_t> gone;
    for (const auto& [topic, p] : parts) gone.insert(p);
    std::lock_guard lock(mu_);
    for (auto it = published_.begin(); it != published_.end();)
        it = gone.count(it->second.partition) ? published_.erase(it) : std::next(it);
    for (auto it = follow_up_root_.begin(); it != follow_up_root_.end();)
        it = published_.count(it->second) ? std::next(it) : follow_up_root_.erase(it);
    for (int32_t p : gone) owned_.erase(p);
    working_.clear();
    pending_.clear();
}

StatusReply StateStage::lookup(std::string_view id) {
    auto& queries = Metrics::get().payment_inquiries;
    const std::string key(id);
    int32_t partition = -1;
    {
        std::lock_guard lock(mu_);
        auto it = published_.find(key);
        if (it == published_.end())
            if (auto f = follow_up_root_.find(key); f != follow_up_root_.end()) it = published_.find(f->second);
        if (it != published_.end()) {
            queries.Add({{"outcome", "found"}}).Increment();
            return {200, it->second.json};
        }
        if (partitions_ > 0) partition = partition_for_key(id, partitions_);
        if (partition >= 0 && owned_.count(partition)) {
            queries.Add({{"outcome", "unknown"}}).Increment();
            return {404, error_body("unknown_payment", "no payment with this id has a result yet")};
        }
    }
    // Another instance owns the partition: its committed state is in payments.state.
    try {
        if (auto v = read_payment_state(cfg_.kafka, id)) {
            // Served as this role writes it, never as raw topic bytes.
            auto lc = decode_life_cycle(*v);
            if (!lc || lc->root_id != id) {
                queries.Add({{"outcome", "error"}}).Increment();
                spdlog::warn("state: the payments.state record of a payment does not decode; not served");
                return {500, error_body("unreadable_state", "the payment's state record is not readable")};
            }
            queries.Add({{"outcome", "found"}}).Increment();
            return {200, encode_life_cycle(*lc)};
        }
        queries.Add({{"outcome", "unknown"}}).Increment();
        return {404, error_body("unknown_payment", "no payment with this root id in payments.state")};
    } catch (const std::exception& e) {
        queries.Add({{"outcome", "error"}}).Increment();
        return {503, error_body("state_unavailable", e.what())};
    }
}

kafka::StageOptions state_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "state", instance, {cfg.kafka.topics.results});
}

}  // namespace turnout
