#pragma once
// A payment's life cycle (docs/design.md, "Flow and keys"): a sale or authorize (the root) and the captures,
// voids and refunds that act on it. Pure rules, no Kafka: the router checks each follow-up
// against the ledger before it reaches a channel, the state role folds results into the
// view that `GET /payments/{id}` and `turnout status` show.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/payment.hpp"

namespace turnout {

// Rejection codes of the life-cycle rules, one per rule (result `rejected`).
namespace life_cycle_code {
inline constexpr std::string_view original_unknown = "original_unknown";
inline constexpr std::string_view original_pending = "original_pending";
inline constexpr std::string_view original_not_approved = "original_not_approved";
inline constexpr std::string_view original_channel_mismatch = "original_channel_mismatch";
inline constexpr std::string_view currency_mismatch = "currency_mismatch";
inline constexpr std::string_view capture_not_authorization = "capture_not_authorization";
inline constexpr std::string_view capture_after_void = "capture_after_void";
inline constexpr std::string_view capture_exceeds_authorized = "capture_exceeds_authorized";
inline constexpr std::string_view void_not_authorization = "void_not_authorization";
inline constexpr std::string_view void_after_capture = "void_after_capture";
inline constexpr std::string_view already_voided = "already_voided";
inline constexpr std::string_view refund_exceeds_captured = "refund_exceeds_captured";
inline constexpr std::string_view merchant_mismatch = "merchant_mismatch";
inline constexpr std::string_view too_many_follow_ups = "too_many_follow_ups";
}  // namespace life_cycle_code

// Captures, voids and refunds one payment may have (answered, in flight and held together):
// keeps every ledger record of a payment bounded whatever a sender does.
inline constexpr size_t kMaxFollowUpsPerPayment = 200;

// One result in a payment's history.
struct LifeCycleEvent {
    std::string payment_id;
    std::optional<PaymentType> type;
    ResultStatus status = ResultStatus::rejected;
    int64_t amount = 0;
    std::string reason_code;
    std::string channel;
    std::string channel_ref;
    std::string approval_code;
    int64_t at_ms = 0;  // the result's completed_at
};

// A follow-up the router let through whose result has not arrived yet: it already counts
// against the authorized (or captured) amount, so two captures in flight cannot both pass.
struct InFlightFollowUp {
    std::string payment_id;
    PaymentType type = PaymentType::capture;
    int64_t amount = 0;
};

struct PaymentLifeCycle {
    std::string root_id;
    std::optional<PaymentType> kind;            // sale | authorize (absent: unreadable rejected request)
    std::optional<ResultStatus> original_status;  // absent: the original has no result yet
    std::string merchant_id;
    std::string currency;
    int64_t amount = 0;      // the original's amount
    int64_t authorized = 0;  // approved authorize or sale
    int64_t captured = 0;    // approved captures, or the approved sale amount
    int64_t refunded = 0;
    int64_t voided = 0;
    std::string channel;  // the channel that holds the original
    std::string channel_ref;
    std::string approval_code;
    std::vector<LifeCycleEvent> history;     // state view only
    std::vector<InFlightFollowUp> in_flight;  // router ledger only
    // Router ledger only: follow-up payment_ids already answered (result applied or refused
    // by a rule), so one sent again at any time later is a duplicate, not a new follow-up.
    std::vector<std::string> answered_follow_ups;
    int64_t created_at_ms = 0;
    int64_t updated_at_ms = 0;

    // pending, authorized, partially_captured, captured, partially_refunded, refunded,
    // voided, or the original's own status when it was not approved.
    std::string status() const;
};

// A newly accepted sale or authorize, before its result.
PaymentLifeCycle open_life_cycle(const PaymentRequest& original, int64_t now_ms);

enum class FollowUpVerdict { accept, hold, reject };

struct FollowUpDecision {
    FollowUpVerdict verdict = FollowUpVerdict::accept;
    Reason reason;  // for reject
};

// May this capture, void or refund go to the channel? `lc` is null when the router never
// saw the original. `hold` means the original has no result yet: decide again once it has.
// A follow-up of another merchant's payment is refused before anything else is looked at.
FollowUpDecision check_follow_up(const PaymentLifeCycle* lc, const PaymentRequest& follow_up);

// Counts an accepted follow-up as in flight.
void reserve(PaymentLifeCycle& lc, const PaymentRequest& follow_up);

// The answer to a second copy of a request (`duplicate_request`, `key_mismatch`): it says
// nothing about the payment itself and never changes a life cycle.
bool is_duplicate_answer(const PaymentResult& r);

// Folds a result into the life cycle. The router's ledger (`keep_history` false) applies a
// follow-up's result only when it holds that follow-up in flight; the state view keeps the
// history and skips a payment_id it already holds. `duplicate_request` answers never change
// anything. Returns whether anything changed.
bool apply_result(PaymentLifeCycle& lc, const PaymentResult& r, bool keep_history);

// A life cycle first learnt from a result (the state role sees no requests). nullopt for a
// follow-up whose original it never saw and for duplicate answers.
std::optional<PaymentLifeCycle> life_cycle_from_result(const PaymentResult& r);

// JSON of payments.state (schemas/payment-state.schema.json). `router_fields` adds the
// router ledger's in-flight follow-ups; the history is written when present.
std::string encode_life_cycle(const PaymentLifeCycle& lc, bool router_fields = false);
std::optional<PaymentLifeCycle> decode_life_cycle(std::string_view bytes);

// Human-readable `turnout status` text.
std::string render_life_cycle(const PaymentLifeCycle& lc);

}  // namespace turnout
