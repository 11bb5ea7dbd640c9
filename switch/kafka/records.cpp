#include "kafka/records.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <spdlog/spdlog.h>

#include "codec/json_writer.hpp"
#include "codec/messages.hpp"
#include "metrics/metrics.hpp"
#include "security/card_vault.hpp"

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

bool valid_traceparent(std::string_view tp) {
    if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
    for (size_t i = 0; i < tp.size(); ++i) {
        if (i == 2 || i == 35 || i == 52) continue;
        const char c = tp[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string sha256_hex_of(std::string_view bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string s;
    s.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) s += {hex[md[i] >> 4], hex[md[i] & 15]};
    return s;
}

std::string bounded_copy(std::string_view bytes, size_t max_bytes, size_t excerpt) {
    if (bytes.size() <= max_bytes) return std::string(bytes);
    JsonWriter w(excerpt * 4 / 3 + 160);
    w.begin_object()
        .field("truncated", true)
        .field("original_bytes", static_cast<int64_t>(bytes.size()))
        .field("sha256", sha256_hex_of(bytes))
        .field("excerpt_base64", base64_encode(bytes.substr(0, std::min(excerpt, bytes.size()))));
    return w.end_object().take();
}

std::vector<std::pair<std::string, std::string>> descend_headers(std::string_view traceparent) {
    return {{kTraceparent, valid_traceparent(traceparent) ? std::string(traceparent) : new_traceparent()},
            {"content-type", "application/json"}};
}

std::vector<std::pair<std::string, std::string>> descend_headers(const Record& in) {
    return descend_headers(in.header(kTraceparent));
}

OutRecord dlq_record(const TopicNames& topics, const Record& in, std::string_view stage, std::string_view reason,
                     std::string value) {
    std::string truncated;
    std::string key(in.key);
    if (key.size() > kDlqMaxKeyBytes) {
        key = "sha256:" + sha256_hex_of(in.key);
        truncated = "key";
    }
    if (value.size() > kDlqMaxValueBytes) {
        value = bounded_copy(value);
        truncated += truncated.empty() ? "value" : ",value";
    }
    OutRecord r{topics.dlq, std::move(key), std::move(value), {}};
    r.headers = {{"turnout.error.stage", std::string(stage)},
                 {"turnout.error.reason", std::string(reason)},
                 {"turnout.error.topic", std::string(in.topic)},
                 {"turnout.error.partition", std::to_string(in.partition)},
                 {"turnout.error.offset", std::to_string(in.offset)}};
    if (!truncated.empty()) r.headers.emplace_back("turnout.error.truncated", truncated);
    if (auto tp = in.header(kTraceparent); valid_traceparent(tp)) r.headers.emplace_back(kTraceparent, std::string(tp));
    return r;
}

void count_invalid_result(std::string_view stage, std::string_view field) {
    static SeriesCache<prometheus::Counter> invalid(
        declare_counter("turnout_invalid_results_total",
                        "Results read from an internal topic that broke a validation rule and were dead-lettered, "
                        "by stage and field"),
        {}, {"stage", "field"});
    invalid({stage, field}).Increment();
}

OutRecord dead_letter_result(const TopicNames& topics, const Record& in, std::string_view stage,
                             const ResultProblem& problem) {
    OutRecord r = dlq_record(topics, in, stage, problem.reason, std::string(in.value));
    if (!problem.field.empty()) r.headers.emplace_back("turnout.error.field", std::string(problem.field));
    r.headers.emplace_back("turnout.error.detail", problem.message);
    const std::string field = problem.field.empty() ? std::string(problem.reason) : std::string(problem.field);
    count_invalid_result(stage, field);
    // The message names rules only; the record's own text stays out of the log.
    spdlog::warn("{}: result at {}/{}:{} dead-lettered: {} ({}{}{})", stage, in.topic, in.partition, in.offset,
                 problem.reason, problem.field, problem.field.empty() ? "" : ": ", problem.message);
    return r;
}

OutRecord result_record(const TopicNames& topics, const PaymentResult& res, std::string_view traceparent,
                        int32_t partition) {
    return {topics.results, res.root_id.empty() ? res.payment_id : res.root_id, encode_result(res),
            descend_headers(traceparent), partition < 0 ? RD_KAFKA_PARTITION_UA : partition};
}

}  // namespace turnout::kafka
