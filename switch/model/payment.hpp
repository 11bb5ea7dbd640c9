#pragma once
// The payment messages of docs/design.md, "Messages" as plain structs; codec/ maps them to JSON.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/money.hpp"

namespace turnout {

enum class PaymentType { sale, authorize, capture, void_, refund };
enum class InstrumentKind { card, card_token, wallet, bank_account };
enum class ResultStatus { approved, declined, failed, rejected, reversed };

std::string_view to_string(PaymentType t);
std::string_view to_string(InstrumentKind k);
std::string_view to_string(ResultStatus s);
std::optional<PaymentType> parse_payment_type(std::string_view s);
std::optional<InstrumentKind> parse_instrument_kind(std::string_view s);
std::optional<ResultStatus> parse_result_status(std::string_view s);

// capture, void and refund act on an earlier payment.
inline bool is_follow_up(PaymentType t) {
    return t == PaymentType::capture || t == PaymentType::void_ || t == PaymentType::refund;
}

struct Merchant {
    std::string id;
    std::string mcc;      // optional, 4 digits
    std::string country;  // optional, ISO 3166 alpha-2
};

struct Customer {
    std::string id;
    std::string ip;
    std::string country;
};

struct OriginalRef {
    std::string payment_id;
    std::string channel;
    std::string channel_ref;
};

// AES-256-GCM envelope: key id, 96-bit nonce and ciphertext||tag, base64. `aad` names what
// the tag authenticates besides the ciphertext: "v2" = the key id, the field and the
// payment_id it was sealed for (security/card_vault.hpp); "" = the key id only (envelopes
// written before binding; they still open).
struct SealedData {
    std::string key_id;
    std::string nonce;
    std::string ciphertext;
    std::string aad;
};

struct Instrument {
    InstrumentKind kind = InstrumentKind::card;
    std::string pan;       // clear PAN: only ever set on a request read from payments.requests
    std::string expiry;    // YYMM
    // An ISO 9564 PIN block under the acquiring zone PIN key, hex: 16 digits (format 0) or 32
    // (format 4). Enciphered end to end: the ISO 8583 connector translates it to its channel's
    // PIN key for field 52 (security/pin_block.hpp). Card only; empty without a PIN.
    std::string pin_block;
    std::string token;     // card_token / wallet token / bank account number
    std::string provider;  // wallet provider
    // Protected view, filled by the router.
    std::string fingerprint;
    std::string bin;
    std::string last4;
    std::optional<SealedData> sealed_pan;
};

struct PaymentRequest {
    std::string payment_id;
    PaymentType type = PaymentType::sale;
    Merchant merchant;
    Money amount;
    std::optional<Instrument> instrument;
    std::optional<Customer> customer;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::optional<OriginalRef> original;
    int64_t created_at_ms = 0;

    // The payment whose life cycle this request belongs to (docs/design.md, "Flow and keys").
    const std::string& root_id() const {
        return original && is_follow_up(type) ? original->payment_id : payment_id;
    }
};

struct RouteAttempt {
    std::string channel;
    std::string outcome;  // soft_failure, approved, declined, ...
    std::string reason;
};

struct RoutePlan {
    std::string rule;
    std::vector<std::string> channels;
    std::vector<RouteAttempt> attempts;
    std::string action;                // fallback, split, least_cost, health, original_channel
    std::vector<std::string> skipped;  // channels of the rule left out because they were down
};

struct RiskAssessment {
    int score = 0;
    std::string decision;  // approve | review | decline | skipped
    std::vector<std::string> rules_hit;
};

// Epoch milliseconds of each stage a payment passed; 0 = not reached.
struct StageTimes {
    int64_t created_at = 0;
    int64_t received_at = 0;
    int64_t routed_at = 0;
    int64_t scored_at = 0;
    int64_t completed_at = 0;
};

// A validated request on its way to a channel (payments.routed, payments.channel.<id>).
// Its instrument carries only the protected view: no clear PAN.
struct RoutedPayment {
    PaymentRequest request;
    RoutePlan route;
    std::optional<RiskAssessment> risk;
    StageTimes times;
    // The payments.requests partition the request arrived in; its result goes to the same
    // partition of payments.results, whatever partitioner the upstream producer used.
    // -1 (a record written before it was carried): the key decides (murmur2).
    int32_t home_partition = -1;
};

struct Reason {
    std::string code;
    std::string message;
};

struct InstrumentView {
    InstrumentKind kind = InstrumentKind::card;
    std::string fingerprint;
    std::string bin;
    std::string last4;
};

struct PaymentResult {
    std::string payment_id;
    std::string root_id;
    std::optional<PaymentType> type;
    ResultStatus status = ResultStatus::rejected;
    Reason reason;
    std::optional<Money> amount;
    std::string merchant_id;
    std::string channel;
    std::string channel_ref;
    std::string approval_code;
    std::optional<RiskAssessment> risk;
    std::optional<RoutePlan> route;
    std::optional<InstrumentView> instrument;
    std::optional<OriginalRef> original;
    StageTimes times;
};

// The result a rejection turns into; `root_id` keys it on payments.results.
PaymentResult make_rejected_result(std::string payment_id, std::string root_id, Reason reason,
                                   int64_t now_ms);

// The common result skeleton for a routed payment (amount, merchant, route, risk, instrument).
PaymentResult result_for(const RoutedPayment& p, ResultStatus status, Reason reason, int64_t now_ms);

}  // namespace turnout
