#include "kafka/records.hpp"

#include <openssl/rand.h>

#include <spdlog/spdlog.h>

#include "codec/messages.hpp"
#include "metrics/metrics.hpp"

namespace turnout::kafka {

std::string new_traceparent() {
    unsigned char b[24];
    RAND_bytes(b, sizeof b);
    static const char hex[] = "0123456789abcdef";
    std::string s = "00-";
    for (int i = 0; i < 16; ++i) s += {hex[b[i] >> 4], hex[b[i] & 15]};
    s += '-';
    for (int i = 16; i < 24; ++i) s += {hex[b[i] >> 4], hex[b[i] & 15]};
    s += "-01";
    return s;
}

std::vector<std::pair<std::string, std::string>> descend_headers(std::string_view traceparent) {
    return {{kTraceparent, traceparent.empty() ? new_traceparent() : std::string(traceparent)},
            {"content-type", "application/json"}};
}

std::vector<std::pair<std::string, std::string>> descend_headers(const Record& in) {
    return descend_headers(in.header(kTraceparent));
}

OutRecord dlq_record(const TopicNames& topics, const Record& in, std::string_view stage, std::string_view reason,
                     std::string value) {
    OutRecord r{topics.dlq, std::string(in.key), std::move(value), {}};
    r.headers = {{"turnout.error.stage", std::string(stage)},
                 {"turnout.error.reason", std::string(reason)},
                 {"turnout.error.topic", std::string(in.topic)},
                 {"turnout.error.partition", std::to_string(in.partition)},
                 {"turnout.error.offset", std::to_string(in.offset)}};
    if (auto tp = in.header(kTraceparent); !tp.empty()) r.headers.emplace_back(kTraceparent, std::string(tp));
    return r;
}

OutRecord dead_letter_result(const TopicNames& topics, const Record& in, std::string_view stage,
                             const ResultProblem& problem) {
    OutRecord r = dlq_record(topics, in, stage, problem.reason, std::string(in.value));
    if (!problem.field.empty()) r.headers.emplace_back("turnout.error.field", std::string(problem.field));
    r.headers.emplace_back("turnout.error.detail", problem.message);
    const std::string field = problem.field.empty() ? std::string(problem.reason) : std::string(problem.field);
    Metrics::get().invalid_results.Add({{"stage", std::string(stage)}, {"field", field}}).Increment();
    // The message names rules only; the record's own text stays out of the log.
    spdlog::warn("{}: result at {}/{}:{} dead-lettered: {} ({}{}{})", stage, in.topic, in.partition, in.offset,
                 problem.reason, problem.field, problem.field.empty() ? "" : ": ", problem.message);
    return r;
}

OutRecord result_record(const TopicNames& topics, const PaymentResult& res, std::string_view traceparent) {
    return {topics.results, res.root_id.empty() ? res.payment_id : res.root_id, encode_result(res),
            descend_headers(traceparent)};
}

}  // namespace turnout::kafka
