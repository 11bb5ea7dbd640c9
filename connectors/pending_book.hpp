#pragma once
// Payments a channel answered `pending`, per input partition, with the time of their next
// status query. Changes since the last commit can be undone (the stage's transaction
// aborted), so the book always matches what payments.pending holds once committed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "connector.hpp"
#include "model/payment.hpp"

namespace turnout {

struct PendingPayment {
    RoutedPayment payment;  // as it reached the channel, before this channel's attempt
    int32_t partition = 0;
    int64_t since_ms = 0;
    int64_t next_query_ms = 0;
    std::string channel_ref;
    std::string traceparent;
    // Set when the stage gave the payment up with an unknown outcome: it is no longer
    // pending (no queries, no result), only watched for a late event until next_query_ms.
    int64_t expired_ms = 0;
};

class PendingBook {
public:
    void add(const std::string& payment_id, PendingPayment p);
    // Removes and returns the entry (a final outcome arrived); nullopt if not pending.
    std::optional<PendingPayment> take(const std::string& payment_id);
    // Pending (not given up).
    bool contains(const std::string& payment_id) const {
        auto it = entries_.find(payment_id);
        return it != entries_.end() && it->second.expired_ms == 0;
    }
    // Given up with an unknown outcome and still watched for a late event.
    bool watched(const std::string& payment_id) const {
        auto it = entries_.find(payment_id);
        return it != entries_.end() && it->second.expired_ms != 0;
    }
    // Pending ids whose next query time has come, oldest first, at most `limit`.
    std::vector<std::string> due(int64_t now_ms, size_t limit) const;
    // Watched ids whose watch has ended (next_query_ms), at most `limit`.
    std::vector<std::string> watch_ended(int64_t now_ms, size_t limit) const;
    const PendingPayment* find(const std::string& payment_id) const;
    // Timing only: not part of the committed state.
    void reschedule(const std::string& payment_id, int64_t next_query_ms);
    void commit() { journal_.clear(); }
    void abort();
    void drop_partition(int32_t partition);
    // Pending payments (watched ones not counted).
    size_t size() const { return entries_.size() - watched_; }
    size_t watched_count() const { return watched_; }

private:
    std::unordered_map<std::string, PendingPayment> entries_;
    // Undo log since the last commit: id and the entry it replaced (nullopt = absent).
    std::vector<std::pair<std::string, std::optional<PendingPayment>>> journal_;
    size_t watched_ = 0;
    void count(const std::optional<PendingPayment>& before, const std::optional<PendingPayment>& after);
};

// payments.pending record value (schemas/pending-payment.schema.json). A watched payment
// carries `expired_at_ms`; decoding sets its watch end from `late_event_window_ms`.
std::string encode_pending(const PendingPayment& p, const std::string& channel);
std::optional<PendingPayment> decode_pending(std::string_view value, int32_t partition, int64_t late_event_window_ms = 0);
// The `channel` member of a payments.pending value ("" when it has none).
std::string pending_channel(std::string_view value);

// A channel event on the channel topic (header turnout.record = channel_event).
inline constexpr const char* kRecordKindHeader = "turnout.record";
inline constexpr const char* kChannelEventKind = "channel_event";
std::string encode_channel_event(const ChannelEvent& e);
std::optional<ChannelEvent> decode_channel_event(std::string_view value);

}  // namespace turnout
