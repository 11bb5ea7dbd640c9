#pragma once
// The record conventions every stage shares: headers that descend from the request,
// dead-letter records, result records.
#include <string>
#include <string_view>

#include "codec/result_decoder.hpp"
#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "model/payment.hpp"

namespace turnout::kafka {

inline constexpr const char* kTraceparent = "traceparent";

// A new W3C traceparent ("00-<trace>-<span>-01").
std::string new_traceparent();

// Headers for a record descending from `in`: its traceparent (or a new one) + content-type.
std::vector<std::pair<std::string, std::string>> descend_headers(const Record& in);
std::vector<std::pair<std::string, std::string>> descend_headers(std::string_view traceparent);

// A dead-letter record for `in` with the DESIGN.md §4 headers. `value` is what to keep
// (the original bytes, or their sealed envelope when they may hold card data).
OutRecord dlq_record(const TopicNames& topics, const Record& in, std::string_view stage, std::string_view reason,
                     std::string value);

// A result refused by decode_result_checked, for payments.dlq: the original bytes with the
// headers above plus `turnout.error.field` (the member at fault) and `turnout.error.detail`
// (the rule). Counts turnout_invalid_results_total{stage,field} and logs at warn; the caller
// counts the DLQ record on its StageProbe.
OutRecord dead_letter_result(const TopicNames& topics, const Record& in, std::string_view stage,
                             const ResultProblem& problem);

OutRecord result_record(const TopicNames& topics, const PaymentResult& r, std::string_view traceparent);

}  // namespace turnout::kafka
