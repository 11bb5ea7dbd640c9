#include "router/life_cycle_gate.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"
#include "kafka/changelog.hpp"
#include "kafka/records.hpp"
#include "metrics/log.hpp"
#include "model/time.hpp"

namespace turnout {

LifeCycleGate::LifeCycleGate(const Config& cfg, RouterProbe& probe) : cfg_(cfg), probe_(probe) {}

LifeCycleLedger& LifeCycleGate::ledger(int32_t partition) {
    auto [it, fresh] = ledgers_.try_emplace(partition);
    if (fresh && stores_) {
        auto& st = stores_->at(store_, partition);
        it->second.set_loader([&st](const std::string& key) { return st.get(key); });
    }
    return it->second;
}

namespace {
constexpr std::string_view kHeldIndex = "held/";
}

void LifeCycleGate::index_held(std::string_view key, std::string_view, std::vector<std::string>& out) {
    if (key.find('/') != std::string_view::npos) out.push_back(std::string(kHeldIndex) + std::string(key));
}

bool LifeCycleGate::hold_if_waiting(int32_t partition, const kafka::Record& rec, const PaymentRequest& req,
                                    std::string_view traceparent) {
    if (!is_follow_up(req.type) || deciding_again_) return false;
    auto& l = ledger(partition);
    if (!l.must_hold(req)) return false;
    l.hold({req.root_id(), req.payment_id, std::string(rec.value), std::string(traceparent), now_ms()});
    log_payment_event(spdlog::level::debug, "follow_up_held", req.payment_id, traceparent,
                      {{"original", req.root_id()}});
    return true;
}

bool LifeCycleGate::refuse(int32_t partition, const PaymentRequest& req, std::string_view traceparent,
                           kafka::Emitter& out) {
    if (!is_follow_up(req.type)) return false;
    auto& l = ledger(partition);
    auto d = l.check(req);
    if (d.verdict == FollowUpVerdict::accept) return false;
    l.refused(req);
    if (d.verdict == FollowUpVerdict::hold)  // only after the wait: the original still has no result
        d.reason = {std::string(life_cycle_code::original_pending),
                    "the original has no result after " + std::to_string(cfg_.state.original_wait_seconds) + " s"};
    const int64_t now = now_ms();
    auto res = make_rejected_result(req.payment_id, req.root_id(), d.reason, now);
    res.type = req.type;
    res.amount = req.amount;
    res.merchant_id = req.merchant.id;
    res.original = req.original;
    res.times.created_at = req.created_at_ms;
    out.emit(kafka::result_record(cfg_.kafka.topics, res, traceparent, partition));
    probe_.rejected(d.reason.code).Increment();
    log_payment_event(spdlog::level::info, "request_rejected", req.payment_id, traceparent,
                      {{"reason", d.reason.code}, {"original", req.root_id()}});
    return true;
}

bool LifeCycleGate::answered(int32_t partition, const PaymentRequest& req) {
    return ledger(partition).answered(req);
}

void LifeCycleGate::admitted(int32_t partition, const PaymentRequest& req) { ledger(partition).admit(req, now_ms()); }

void LifeCycleGate::on_result(const kafka::Record& rec, const RouteAgain& route_again) {
    auto& l = ledger(rec.partition);
    if (!l.find(std::string(rec.key))) return;  // a root this router never accepted
    // The same checks as settlement and state, which dead-letter what fails them; a forged
    // result must not move a ledger either.
    auto checked = decode_result_checked(rec.value, rec.key, now_ms());
    if (!checked.result) return;
    auto& res = checked.result;
    if (!l.apply(*res)) return;
    // Held follow-ups, one at a time: one that goes on to its channel is in flight, and the
    // next waits for its result.
    deciding_again_ = true;
    const std::string root(rec.key);
    while (auto h = l.release_next(root)) route_again(rec.partition, h->request, h->traceparent);
    deciding_again_ = false;
}

void LifeCycleGate::on_tick(int64_t now_ms, const RouteAgain& route_again) {
    const int64_t wait_ms = int64_t{cfg_.state.original_wait_seconds} * 1000;
    for (auto& [p, l] : ledgers_) {
        auto expired = l.expire(now_ms, wait_ms);
        deciding_again_ = true;
        for (const auto& h : expired) route_again(p, h.request, h.traceparent);
        deciding_again_ = false;
    }
}

void LifeCycleGate::flush(kafka::Emitter& out) {
    size_t held = 0;
    const int64_t now = now_ms();
    for (auto& [p, l] : ledgers_) {
        auto changes = l.take_changes();
        if (stores_ && !changes.empty()) {
            auto& st = stores_->at(store_, p);
            for (auto& [key, value] : changes) {
                if (value.empty())
                    st.erase(key, out);  // a held follow-up released
                else
                    st.put(key, std::move(value), now, out);
            }
        } else {
            for (auto& [key, value] : changes) out.emit({cfg_.kafka.topics.lifecycle, key, std::move(value), {}, p});
        }
        held += l.held();
    }
    probe_.held_follow_ups.Set(static_cast<double>(held));
}

void LifeCycleGate::on_assign(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) {
        if (topic != cfg_.kafka.topics.requests) continue;
        ledgers_.erase(p);
        auto& l = ledger(p);
        if (!stores_) continue;
        // The store is restored: only the held follow-ups (and their roots) come back to memory.
        auto& st = stores_->at(store_, p);
        std::set<std::string> roots;
        st.scan_index(kHeldIndex, [&](std::string_view, std::string_view key) {
            if (auto v = st.get_committed(key)) {
                l.replay(key, *v);
                roots.insert(std::string(key.substr(0, key.find('/'))));
            }
        });
        for (const auto& root : roots)
            if (auto v = st.get_committed(root)) l.replay(root, *v);
        l.finish_replay();
        spdlog::info("router: partition {} life-cycle ledger ready ({} held follow-ups)", p, l.held());
    }
}

void LifeCycleGate::on_revoke(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts)
        if (topic == cfg_.kafka.topics.requests) ledgers_.erase(p);
}

void LifeCycleGate::on_commit() {
    for (auto& [p, l] : ledgers_) l.commit();
}

void LifeCycleGate::on_abort() {
    for (auto& [p, l] : ledgers_) l.abort();
}

}  // namespace turnout
