#pragma once
// JSON codecs of the messages Turnout itself writes (schemas/ describes each).
#include <optional>
#include <string>
#include <string_view>

#include "model/payment.hpp"

namespace boost::json {
class object;
}

namespace turnout {
namespace detail {
// The result an already parsed JSON object holds (decode_result's reading of it).
std::optional<PaymentResult> result_from_object(const boost::json::object& o);
}  // namespace detail

// The largest `home_partition` a routed payment may carry (Kafka has no more partitions per
// topic in practice); a larger or negative one makes the record undecodable.
inline constexpr int64_t kMaxHomePartition = 1 << 20;

std::string encode_routed(const RoutedPayment& p);
std::optional<RoutedPayment> decode_routed(std::string_view bytes);

std::string encode_result(const PaymentResult& r);
// Lenient: a missing or mistyped member reads as empty. Stages that act on results read them
// with decode_result_checked (codec/result_decoder.hpp), which validates first.
std::optional<PaymentResult> decode_result(std::string_view bytes);

}  // namespace turnout

#include "model/settlement.hpp"

namespace turnout {
std::string encode_batch_summary(const BatchSummary& b);
std::optional<BatchSummary> decode_batch_summary(std::string_view bytes);
}  // namespace turnout
