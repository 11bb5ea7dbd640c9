#pragma once
// Decoding and validation of payment requests (docs/design.md, "Messages"). Every rule has a named
// rejection code; untrusted input never throws.
#include <optional>
#include <string>
#include <string_view>

#include "model/payment.hpp"

namespace turnout {

// Rejection codes, one per rule.
namespace reject {
inline constexpr std::string_view oversize_record = "oversize_record";
inline constexpr std::string_view invalid_json = "invalid_json";
inline constexpr std::string_view not_an_object = "not_an_object";
inline constexpr std::string_view missing_payment_id = "missing_payment_id";
inline constexpr std::string_view invalid_payment_id = "invalid_payment_id";
inline constexpr std::string_view unknown_field = "unknown_field";
inline constexpr std::string_view invalid_type = "invalid_type";
inline constexpr std::string_view invalid_merchant = "invalid_merchant";
inline constexpr std::string_view missing_amount = "missing_amount";
inline constexpr std::string_view amount_not_integer = "amount_not_integer";
inline constexpr std::string_view amount_out_of_range = "amount_out_of_range";
inline constexpr std::string_view unknown_currency = "unknown_currency";
inline constexpr std::string_view missing_instrument = "missing_instrument";
inline constexpr std::string_view invalid_instrument = "invalid_instrument";
inline constexpr std::string_view invalid_pan = "invalid_pan";
inline constexpr std::string_view invalid_expiry = "invalid_expiry";
inline constexpr std::string_view missing_original = "missing_original";
inline constexpr std::string_view invalid_original = "invalid_original";
inline constexpr std::string_view invalid_created_at = "invalid_created_at";
inline constexpr std::string_view invalid_customer = "invalid_customer";
inline constexpr std::string_view invalid_metadata = "invalid_metadata";
inline constexpr std::string_view duplicate_request = "duplicate_request";
// Checked by the router, not the decoder: the record key is not the payment's root id.
inline constexpr std::string_view key_mismatch = "key_mismatch";
// A card token or wallet provider that is a card number (13-19 digits, also grouped by
// spaces or dashes, passing the Luhn check): a card must travel only in instrument.pan,
// where the router seals it. (In metadata and customer.id such numbers are masked instead.)
inline constexpr std::string_view card_number_in_free_text = "card_number_in_free_text";
}  // namespace reject

struct Rejection {
    std::string code;
    std::string message;
    std::string payment_id;  // empty when it could not be read
    std::string root_id;     // original.payment_id for follow-ups when readable, else payment_id
};

struct DecodeOutcome {
    std::optional<PaymentRequest> request;
    std::optional<Rejection> rejection;
    size_t masked_card_numbers = 0;  // card numbers masked in metadata and customer.id
};

// Replaces every digit of every card number in `text` (13-19 digits, also grouped by single
// spaces or dashes, passing the Luhn check) by '*'; returns how many numbers. Masking the
// result again changes nothing.
size_t mask_card_numbers(std::string& text);

bool valid_payment_id(std::string_view id);

DecodeOutcome decode_request(std::string_view bytes, size_t max_record_bytes);

// Encodes a request as it is published to payments.requests (the load generator and tests).
std::string encode_request(const PaymentRequest& r);

}  // namespace turnout
