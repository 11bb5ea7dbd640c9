#pragma once
// Decoding and validation of payment results read back from payments.results (and any other
// internal topic that carries them). The stages that read results (settlement, state, the
// router's life-cycle ledger) use this instead of trusting what is on the topic: a record
// that breaks a rule is refused with a reason and the field at fault, never thrown on.
// The rules follow schemas/payment-result.schema.json for every member those stages use.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/payment.hpp"

namespace turnout {

// Dead-letter reasons of a result (turnout.error.reason).
namespace result_reject {
inline constexpr std::string_view oversize_result = "oversize_result";
inline constexpr std::string_view undecodable_result = "undecodable_result";  // not JSON, not an object
inline constexpr std::string_view invalid_result = "invalid_result";          // a rule below, see `field`
}  // namespace result_reject

// Largest result record accepted (a result is well under 2 KiB).
inline constexpr size_t kMaxResultBytes = 65536;
// How far a result's completed_at may be ahead of the reader's clock (hosts' clocks differ).
inline constexpr int64_t kResultClockSkewMs = 5 * 60 * 1000;

struct ResultProblem {
    std::string_view reason;  // one of result_reject
    // The member at fault: payment_id, root_id, key (record key ≠ root id), type, status,
    // reason, amount, merchant_id, channel, channel_ref, approval_code, original, risk, route,
    // instrument, timestamps, member (an unknown or repeated member); empty for the whole
    // record. A small fixed set: it is a metric label.
    std::string_view field;
    std::string message;  // names rules and members only, never record contents
};

struct ResultOutcome {
    std::optional<PaymentResult> result;
    std::optional<ResultProblem> problem;
};

// Reads one record of payments.results. `key` is the record key (the root id the result is
// filed under); pass std::nullopt when there is no record key to compare. `now_ms` bounds
// completed_at from above (plus kResultClockSkewMs).
//
// Rules: at most `max_bytes`; a JSON object (depth ≤ 16) without repeated or unknown members;
// payment_id and root_id 1-64 of [A-Za-z0-9._:-] (root_id may be empty), equal to the key;
// status one of approved|declined|failed|rejected|reversed; type, when present, a payment
// type; reason {code: 0-64 of [A-Za-z0-9._:-], message: string ≤ 4096}; amount {value:
// integer 1..10^12, currency: a known ISO 4217 code}; merchant_id 1-64 bytes, channel_ref
// 1-128, approval_code 1-64, all without control characters or line breaks; channel 1-64 of
// [A-Za-z0-9_-]; original {payment_id, channel, channel_ref ≤ 64} by the same rules;
// timestamps RFC 3339 with completed_at required, after the epoch and not after now + skew; risk, route and
// instrument objects. Every result but `rejected` needs type, amount and merchant_id;
// `approved` also a channel.
ResultOutcome decode_result_checked(std::string_view bytes, std::optional<std::string_view> key, int64_t now_ms,
                                    size_t max_bytes = kMaxResultBytes);

}  // namespace turnout
