#pragma once
// The decisions of a takeover by the DR site (docs/disaster-recovery.md, "Failover"), free of
// Kafka and of the channels: which payments the lost primary left in flight, and what each
// one's result is, given what the channels answered when asked by idempotency key (a PSP's
// status query or cancel, an ISO 8583 host's reversal). An in-flight payment is never
// executed at DR: a channel that has it decides, else it was never executed.
#include <string>
#include <string_view>
#include <vector>

#include "model/payment.hpp"

namespace turnout {

// What DR holds of one payments.requests record: its payment_id, and its root.
struct ReplicatedRequest {
    std::string payment_id;
    std::string root_id;
};

// The payment_ids of `requests` (first record of each, in order) with no final result among
// `results`: a duplicate's answer (duplicate_request, key_mismatch) is no result of the
// payment it repeats.
std::vector<std::string> in_flight(const std::vector<ReplicatedRequest>& requests,
                                   const std::vector<PaymentResult>& results);

// One channel's answer about one payment, asked at takeover.
struct ChannelAnswer {
    enum class Kind {
        approved,   // the channel executed it and approved it
        declined,   // the channel had it and declined it
        reversed,   // the channel had it (or cannot say it had not) and reversed or cancelled it
        not_found,  // the channel says it never received it
        unknown,    // no usable answer (timeout, error, still pending)
    };
    std::string channel;
    Kind kind = Kind::unknown;
    std::string code;         // the channel's response code, when it gave one
    std::string channel_ref;  // the channel's reference, when it gave one
};

// The final result of an in-flight payment from the answers of every channel asked:
//  - a channel that approved or declined it decides (approved / declined, that channel);
//    two channels that both executed it give `failed` (double_execution_at_primary) for
//    the operator, with the first channel named;
//  - else a channel that reversed it: `reversed`;
//  - else every channel asked said not_found: `rejected` (not_executed_before_failover), a
//    final answer, nothing was executed;
//  - else (an unknown answer, or no channel asked): `failed` (unknown_outcome).
// The result carries payment_id and root_id; the caller fills amount, merchant and times.
PaymentResult takeover_result(const std::string& payment_id, const std::string& root_id,
                              const std::vector<ChannelAnswer>& answers, int64_t now_ms);

}  // namespace turnout
