#pragma once
// The decisions of a takeover by the DR site (docs/disaster-recovery.md, "Failover"), free of
// Kafka and of the channels: which payments the lost primary left in flight, and what each
// one's result is, given what the channels answered when asked by idempotency key (a PSP's
// status query or cancel, an ISO 8583 host's reversal). An in-flight payment is never
// executed at DR: a channel that has it decides, else it was never executed.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "domain/life_cycle.hpp"
#include "model/payment.hpp"
#include "model/settlement.hpp"

namespace turnout {

// What DR holds of one payments.requests record: its payment_id, and its root.
struct ReplicatedRequest {
    std::string payment_id;
    std::string root_id;
};

// The payment_ids of `requests` (first record of each, in order) with no final result among
// `results`: a duplicate's answer (duplicate_request, key_mismatch) is no result of the
// payment it repeats. Payments in `left_out` are not in flight for the takeover: the DR
// site's stages finish them from their replicated state (a follow-up held by the router's
// life-cycle ledger, a payment pending at an asynchronous channel), or settlement's
// replicated log shows them approved (see result_from_clearing).
std::vector<std::string> in_flight(const std::vector<ReplicatedRequest>& requests,
                                   const std::vector<PaymentResult>& results,
                                   const std::unordered_set<std::string>& left_out = {});

// One payments.results record at DR, in partition order: its offset, payment_id, and
// whether settlement makes a clearing record of it.
struct ResultAt {
    int64_t offset = 0;
    std::string payment_id;
    bool settles = false;
};

// Where settlement resumes in one results partition at DR. Its changelog (settlement.log)
// is co-partitioned with payments.results and written in result order, so what DR holds of it
// is a prefix: every settling result up to the last one whose add DR holds is settled (its add
// may since have been compacted away with its closed batch). Past that, a result in a batch
// the takeover adopted from a delivered clearing file is settled too (settlement skips it by
// its settled entry). `logged` = payment_ids of the add entries DR holds for the partition,
// `filed` = those of the adopted files' records. The answer is the offset of the first
// settling result after the last logged one that is not filed, else `end`. Settlement's
// replicated committed offset is no bound: it replicates apart from the log.
int64_t settlement_resume_offset(const std::vector<ResultAt>& results,
                                 const std::unordered_set<std::string>& logged,
                                 const std::unordered_set<std::string>& filed, int64_t end);

// Where DR found the clearing record of a payment whose result did not replicate.
enum class ClearingEvidence {
    settlement_log,  // an add in the replicated settlement log (its batch open or closed)
    clearing_file,   // a clearing file the primary delivered (its batch closed there)
};

// The result DR gives a payment whose clearing record DR holds but whose result did not
// replicate: it was approved at the primary and its batch settles it, so its result is
// `approved` (reason restored_from_settlement_log or restored_from_clearing_file), with the
// record's channel, reference, amount (unsigned) and event time as completion time.
PaymentResult result_from_clearing(const ClearingRecord& rec, const std::string& root_id,
                                   ClearingEvidence from = ClearingEvidence::settlement_log);

// True for such a restored result: its clearing record is in a batch already (settlement
// makes no second record of it).
bool is_restored_result(const PaymentResult& r);

// Whether a follow-up held in the router's replicated ledger is left to the router at DR
// (released once its predecessor has a result). Not when its root's ledger entry lists the
// same payment_id in flight: that is a client's resent copy, held behind its own first copy,
// which went to a channel; the payment is in flight for the takeover, or nothing answers it.
bool held_for_router(const std::string& payment_id, const std::vector<InFlightFollowUp>& root_in_flight);

// A clearing file the primary delivered, of a batch of the window: adopted unless DR holds
// both the batch's close (settlement.log) and its summary (settlement.batches); announced too
// when DR lacks the summary. A close without its records lets DR's settlement settle them
// again; a summary without its close lets it close the batch again with other totals.
enum class FiledBatch { skip, adopt, adopt_and_announce };
FiledBatch filed_batch(bool announced_at_dr, bool closed_in_dr_log);

// A replicated pending entry (a payment pending at an asynchronous channel): left to the
// connector at DR, or removed when the payment has its result at DR (the entry's tombstone did
// not replicate) or the takeover restores it; else the connector would answer it again.
enum class PendingEntry { left_to_connector, removed };
PendingEntry pending_entry(bool answered_at_dr, bool restored_by_takeover);

// The results partition of a batch settlement closed: its id ends ".p<partition>".
std::optional<int32_t> batch_partition(std::string_view batch_id);

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
    std::string approval_code;
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
