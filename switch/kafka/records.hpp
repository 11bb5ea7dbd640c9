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
// A W3C traceparent as a header may carry it: 55 characters "vv-<32 hex>-<16 hex>-ff". A
// header that is not one (any size, any bytes) is never copied onto records Turnout writes.
bool valid_traceparent(std::string_view tp);

// Bounds of what a dead-letter record keeps of its input: a record of any size on any topic
// must give a dead-letter record the producer can write.
inline constexpr size_t kDlqMaxKeyBytes = 256;
inline constexpr size_t kDlqMaxValueBytes = 256 * 1024;
inline constexpr size_t kDlqExcerptBytes = 4096;

// What a dead-letter record keeps of `bytes` when they exceed `max_bytes`: a JSON object
// {"truncated":true,"original_bytes":N,"sha256":hex,"excerpt_base64":first `excerpt` bytes}.
// Bytes within the bound are returned as they are.
std::string bounded_copy(std::string_view bytes, size_t max_bytes = kDlqMaxValueBytes, size_t excerpt = kDlqExcerptBytes);
std::string sha256_hex_of(std::string_view bytes);

// Headers for a record descending from `in`: its traceparent (or a new one) + content-type.
std::vector<std::pair<std::string, std::string>> descend_headers(const Record& in);
std::vector<std::pair<std::string, std::string>> descend_headers(std::string_view traceparent);

// A dead-letter record for `in` with the turnout.error.* headers. `value` is what to keep
// (the original bytes, or their sealed envelope when they may hold card data); a key or value
// beyond the bounds above is replaced by its digest and an excerpt (header
// turnout.error.truncated names which).
OutRecord dlq_record(const TopicNames& topics, const Record& in, std::string_view stage, std::string_view reason,
                     std::string value);

// Counts one result that broke a validation rule in turnout_invalid_results_total{stage,field}
// (declared here: the stages and the gateway validate results with the same rules).
void count_invalid_result(std::string_view stage, std::string_view field);

// A result refused by decode_result_checked, for payments.dlq: the original bytes with the
// headers above plus `turnout.error.field` (the member at fault) and `turnout.error.detail`
// (the rule). Counts turnout_invalid_results_total{stage,field} and logs at warn; the caller
// counts the DLQ record on its StageProbe.
OutRecord dead_letter_result(const TopicNames& topics, const Record& in, std::string_view stage,
                             const ResultProblem& problem);

// `partition`: the payments.requests partition the request arrived in (results follow it, so a
// life cycle stays in one partition whatever partitioner the upstream producer used); -1 =
// the key decides (murmur2).
OutRecord result_record(const TopicNames& topics, const PaymentResult& r, std::string_view traceparent,
                        int32_t partition);

}  // namespace turnout::kafka
