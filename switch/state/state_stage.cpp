#include "state/state_stage.hpp"

#include <spdlog/spdlog.h>

#include "codec/json_writer.hpp"
#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"
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

void StateStage::index_follow_ups(std::string_view key, std::string_view value, std::vector<std::string>& out) {
    auto lc = decode_life_cycle(value);
    if (!lc || lc->root_id != key) return;
    for (const auto& e : lc->history)
        if (e.payment_id != key) out.push_back("f/" + e.payment_id);
}

StateStage::StateStage(const Config& cfg, bool serve_http, const std::string& instance)
    : cfg_(cfg),
      stores_(cfg.kafka, kafka::role_state_dir(cfg, "state", instance), "state",
              {{"state", cfg.kafka.topics.state, cfg.state.retention_ms, true,
                &StateStage::index_follow_ups}}) {
    if (serve_http) {
        server_ = std::make_unique<StatusServer>(cfg.state.http_address, cfg.state.http_port,
                                                 [this](std::string_view id) { return lookup(id); }, cfg.state.http_limits);
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
            if (auto v = stores_.at(0, rec.partition).get(res->root_id)) lc = decode_life_cycle(*v);
            if (!lc) lc = life_cycle_from_result(*res);
            if (!lc) continue;  // a duplicate answer, or a follow-up of an original never seen
            w = working_.emplace(res->root_id, std::make_pair(rec.partition, std::move(*lc))).first;
        }
        if (apply_result(w->second.second, *res, true)) changed.insert(res->root_id);
    }
    for (const auto& root : changed) {
        const auto& [p, lc] = working_.at(root);
        stores_.at(0, p).put(root, encode_life_cycle(lc), now, out);
        probe_.out();
    }
}

void StateStage::on_commit() { working_.clear(); }

// Back to the committed view: the aborted results are delivered again.
void StateStage::on_abort() { working_.clear(); }

void StateStage::on_start() { partitions_ = partition_count(cfg_.kafka, cfg_.kafka.topics.results); }

void StateStage::on_revoke(const kafka::PartitionSet&) { working_.clear(); }

StatusReply StateStage::lookup(std::string_view id) {
    const std::string key(id);
    // A payment lives in the partition its request arrived in, which depends on the upstream
    // producer's partitioner: a root id is looked up in every partition this instance holds
    // (point reads, murmur2's partition first), a follow-up's payment_id by the follow-up index.
    const int32_t n = partitions_;
    const auto held = stores_.partitions();
    try {
        std::optional<std::string> found;
        for (int32_t p : n > 0 ? partitions_to_search(id, n) : held)
            if (auto st = stores_.find(0, p); st && !found) found = st->get_committed(key);
        for (int32_t p : held)
            if (auto st = stores_.find(0, p); st && !found)
                if (auto root = st->key_by_index("f/" + key)) found = st->get_committed(*root);
        if (found) {
            probe_.inquiry_found.Increment();
            return {200, std::move(*found)};
        }
    } catch (const std::exception& e) {
        probe_.inquiry_error.Increment();
        return {503, error_body("state_unavailable", e.what())};
    }
    if (n > 0 && static_cast<int32_t>(held.size()) >= n) {  // every partition is here
        probe_.inquiry_unknown.Increment();
        return {404, error_body("unknown_payment", "no payment with this id has a result yet")};
    }
    // Other instances hold the other partitions: their committed state is in payments.state.
    try {
        if (auto v = read_payment_state(cfg_.kafka, id)) {
            // Served as this role writes it, never as raw topic bytes.
            auto lc = decode_life_cycle(*v);
            if (!lc || lc->root_id != id) {
                probe_.inquiry_error.Increment();
                spdlog::warn("state: the payments.state record of a payment does not decode; not served");
                return {500, error_body("unreadable_state", "the payment's state record is not readable")};
            }
            probe_.inquiry_found.Increment();
            return {200, encode_life_cycle(*lc)};
        }
        probe_.inquiry_unknown.Increment();
        return {404, error_body("unknown_payment", "no payment with this root id in payments.state")};
    } catch (const std::exception& e) {
        probe_.inquiry_error.Increment();
        return {503, error_body("state_unavailable", e.what())};
    }
}

kafka::StageOptions state_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "state", instance, {cfg.kafka.topics.results});
}

}  // namespace turnout
