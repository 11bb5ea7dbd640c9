#pragma once
// The router's life-cycle ledger for one requests partition: every root it accepted, the
// results of the root and its follow-ups (payments.results is co-partitioned), follow-ups
// in flight, and follow-ups held until their original has a result; the router's dedupe asks
// it whether a payment_id was seen. Transactional: changes since the last commit are undone on abort; each changed root's snapshot
// goes to the same partition of the router's compacted changelog (kafka.topics.lifecycle)
// in the same transaction, and a partition's ledger is replayed from it on assignment.
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/life_cycle.hpp"

namespace turnout {

// A follow-up request kept (as its original bytes) until its original has a result.
struct HeldFollowUp {
    std::string root_id;
    std::string payment_id;
    std::string request;  // the request record's value
    std::string traceparent;
    int64_t held_at_ms = 0;
};

class LifeCycleLedger {
public:
    // Where committed entries live when they are not in memory (the router's state store):
    // a root id → its committed snapshot. With a loader, commit() and abort() keep in memory
    // only roots with held follow-ups; without one, every entry stays in memory.
    using Loader = std::function<std::optional<std::string>(const std::string& key)>;
    void set_loader(Loader l) { loader_ = std::move(l); }

    // True when this follow-up must wait: its original has no result yet, an earlier
    // follow-up of the same payment has no result yet, or earlier ones are still waiting.
    // So each payment's follow-ups are decided one at a time, on the amounts their
    // predecessors actually reached (a refund right behind a capture is not refused because
    // the capture's result is not read yet).
    // A follow-up of another merchant's payment, or one past the per-payment limit, is never
    // held: it is refused at once.
    bool must_hold(const PaymentRequest& follow_up) const;
    void hold(HeldFollowUp h);

    FollowUpDecision check(const PaymentRequest& follow_up) const;
    // True when this payment_id was answered before (a root this ledger opened, or a
    // follow-up answered, refused or in flight), however long ago: it must not be executed again.
    bool answered(const PaymentRequest& r) const;
    // A follow-up refused by a life-cycle rule: its payment_id is answered for good.
    void refused(const PaymentRequest& follow_up);
    // A request the router sent on: a root opens its life cycle, a follow-up is in flight.
    void admit(const PaymentRequest& r, int64_t now_ms);
    // Applies a result (of a root this ledger knows); false when it changed nothing.
    bool apply(const PaymentResult& r);
    // The next held follow-up of `root_id` once it can be decided (the original has a result
    // and no follow-up is in flight), taken off the hold; the caller routes it again.
    std::optional<HeldFollowUp> release_next(const std::string& root_id);
    // Held follow-ups waiting longer than `wait_ms` (their original is still pending), in order.
    std::vector<HeldFollowUp> expire(int64_t now_ms, int64_t wait_ms);

    // Changelog records since the last call: (key, value). A root's snapshot is keyed by its
    // id and names its held follow-ups by payment_id; each held follow-up's request is a
    // record of its own keyed `<root id>/<payment_id>` (a tombstone, empty value, once it is
    // released), so no record grows with the number or size of the held requests.
    std::vector<std::pair<std::string, std::string>> take_changes();
    void replay(std::string_view key, std::string_view value);  // a changelog record
    void finish_replay();  // after the last replayed record: joins held requests to their roots
    void commit();
    void abort();

    const PaymentLifeCycle* find(const std::string& root_id) const;
    size_t size() const { return entries_.size(); }
    size_t held() const;

    static std::string encode_entry(const PaymentLifeCycle& lc, const std::vector<HeldFollowUp>& held);
    static std::string encode_held(const HeldFollowUp& h);
    static std::string held_key(const std::string& root_id, const std::string& payment_id) {
        return root_id + "/" + payment_id;  // '/' is not a payment_id character
    }

private:
    struct Entry {
        std::optional<PaymentLifeCycle> lc;  // absent: only held follow-ups of an unknown root
        std::vector<HeldFollowUp> held;
    };
    Entry& touch(const std::string& root);
    // The entry of `root`, loaded from the loader when it is not in memory.
    Entry* lookup(const std::string& root) const;
    void evict();  // back to the held roots only (with a loader)
    static std::optional<Entry> decode_entry(std::string_view value, std::vector<std::string>& held_ids);

    mutable std::unordered_map<std::string, Entry> entries_;
    Loader loader_;
    std::unordered_map<std::string, std::optional<Entry>> undo_;  // as of the last commit
    std::set<std::string> changed_;
    std::set<std::string> holding_;  // roots that may have held follow-ups (cleaned lazily)
    std::vector<std::pair<std::string, std::string>> held_changes_;  // held records since take_changes
    // During replay: held requests by key, and each root's held payment_ids in order.
    std::unordered_map<std::string, HeldFollowUp> replayed_held_;
    std::unordered_map<std::string, std::vector<std::string>> replayed_held_ids_;
};

}  // namespace turnout
