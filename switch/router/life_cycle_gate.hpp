#pragma once
// The router's binding of the life-cycle rules (domain/life_cycle.hpp) to Kafka. The router
// also consumes payments.results (co-partitioned with payments.requests by root id), so for
// requests partition P it knows every root it accepted there and the results of the root
// and its follow-ups. A capture, void or refund is checked against that ledger before it
// reaches a channel. One whose original, or an earlier follow-up of the same payment, has no
// result yet is held (in the changelog too) and decided when that result arrives; after
// `state.original_wait_seconds` it is decided anyway (refused as `original_pending` when
// the original still has no result).
#include <functional>
#include <string_view>
#include <unordered_map>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "domain/life_cycle_ledger.hpp"
#include "router/router_probe.hpp"

namespace turnout {

class LifeCycleGate {
public:
    LifeCycleGate(const Config& cfg, RouterProbe& probe);
    // The ledgers live in store `store` of `stores` (kept by the router): a partition's
    // ledger reads committed entries from it, writes its changes through it, and on
    // assignment takes its held follow-ups back from it.
    void attach(kafka::StoreSet* stores, size_t store) {
        stores_ = stores;
        store_ = store;
    }
    // The store's secondary key of a held follow-up's record (`<root id>/<payment_id>`).
    static void index_held(std::string_view key, std::string_view value, std::vector<std::string>& out);

    // Before answered(): true when the follow-up was held (its original or an earlier follow-up
    // has no result yet).
    bool hold_if_waiting(int32_t partition, const kafka::Record& rec, const PaymentRequest& req,
                         std::string_view traceparent);
    // After answered(): true when a life-cycle rule refuses the follow-up (its `rejected` result,
    // with type, amount and original, is already emitted).
    bool refuse(int32_t partition, const PaymentRequest& req, std::string_view traceparent, kafka::Emitter& out);
    // The dedupe: true when the ledger answered this payment_id before (a root it opened, a
    // follow-up answered, refused or in flight), within state.retention_days.
    bool answered(int32_t partition, const PaymentRequest& req);
    // The request went on to risk and a channel.
    void admitted(int32_t partition, const PaymentRequest& req);

    // A payments.results record. `route_again(partition, value, traceparent)` is called for
    // each held follow-up that can now be decided.
    using RouteAgain = std::function<void(int32_t, std::string_view, std::string_view)>;
    void on_result(const kafka::Record& rec, const RouteAgain& route_again);
    // Held follow-ups past the wait are decided again; still pending, they are refused.
    void on_tick(int64_t now_ms, const RouteAgain& route_again);
    // Writes the changed ledgers to the changelog (call at the end of each batch and tick).
    void flush(kafka::Emitter& out);

    void on_assign(const kafka::PartitionSet& parts);
    void on_revoke(const kafka::PartitionSet& parts);
    void on_commit();
    void on_abort();

private:
    LifeCycleLedger& ledger(int32_t partition);

    const Config& cfg_;
    kafka::StoreSet* stores_ = nullptr;
    size_t store_ = 0;
    std::unordered_map<int32_t, LifeCycleLedger> ledgers_;  // by requests partition
    bool deciding_again_ = false;  // routing a released follow-up: never hold it a second time
    RouterProbe& probe_;
};

}  // namespace turnout
