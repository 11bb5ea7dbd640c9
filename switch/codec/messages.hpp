#pragma once
// JSON codecs of the messages Turnout itself writes (schemas/ describes each).
#include <optional>
#include <string>
#include <string_view>

#include "model/payment.hpp"

namespace turnout {

std::string encode_routed(const RoutedPayment& p);
std::optional<RoutedPayment> decode_routed(std::string_view bytes);

std::string encode_result(const PaymentResult& r);
std::optional<PaymentResult> decode_result(std::string_view bytes);

}  // namespace turnout

#include "model/settlement.hpp"

namespace turnout {
std::string encode_batch_summary(const BatchSummary& b);
std::optional<BatchSummary> decode_batch_summary(std::string_view bytes);
}  // namespace turnout
