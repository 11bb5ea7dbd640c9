#pragma once
// The field checks of payment request validation that do not depend on how the JSON text was
// read: shared by the request decoder and by the reference decoder its tests compare it with.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "model/payment.hpp"

namespace turnout::request_checks {

// A rule a request breaks: its rejection code (request_decoder.hpp) and a message.
struct Invalid {
    std::string_view code;
    std::string message;
};

bool is_upper_alpha(std::string_view s, size_t n);
bool is_digits(std::string_view s);
// An ISO 9564 PIN block as hex: 16 digits (format 0) or 32 (format 4).
bool is_pin_block(std::string_view s);
// Text that ends up in clearing-file lines, logs and CSV cells must not carry control
// characters: a line break in a merchant id would split a record in two.
bool has_control_char(std::string_view s);
// A member name quoted in a rejection message: callers put anything there, card numbers
// included, and the message travels on payments.results, so only letters and '_' survive.
std::string name_for_message(std::string_view name);
// The last check of a request that is otherwise valid: card numbers in the wrong fields are
// refused, those in free text masked (`masked` counts them).
std::optional<Invalid> free_text_card_number(PaymentRequest& r, size_t& masked);

}  // namespace turnout::request_checks
