#pragma once
// Requests, runs and results for integration tests that drive whole payments: an isolated
// run (topics, folders), sales and follow-ups with their own cards, and the results read
// back by payment_id.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "harness.hpp"
#include "kafka/client.hpp"
#include "kafka/topic_reader.hpp"
#include "model/time.hpp"

namespace turnout::it {

// Room on the test topics for records up to 2 MB (the broker's default is about 1 MB).
inline const std::vector<std::pair<std::string, std::string>> kLargeRecords{{"max.message.bytes", "3000000"}};

struct Run {
    std::string id;
    fs::path dir;
    Config cfg;
};

inline Run make_run(const std::string& tag, const std::function<void(std::string&)>& edit = {}) {
    Run r;
    r.id = tag + std::to_string(now_ms());
    r.dir = fs::path(kSource) / "var" / "test" / r.id;
    fs::create_directories(r.dir);
    std::string yaml = isolated_yaml(r.id, r.dir);
    if (edit) edit(yaml);
    r.cfg = isolated_config(r.id, r.dir, yaml);
    kafka::ensure_topics(r.cfg, 30000, kLargeRecords);
    return r;
}

inline kafka::Producer producer_for(const Config& cfg) {
    return kafka::Producer(cfg.kafka, {{"enable.idempotence", "true"}, {"message.max.bytes", "3000000"}});
}

inline void send(kafka::Producer& p, const std::string& topic, const std::string& key, const std::string& value,
                 kafka::Headers headers = {}, int32_t partition = -1) {
    kafka::OutRecord rec{topic, key, value, std::move(headers), partition};
    REQUIRE(p.produce(rec));
}

inline void flush(kafka::Producer& p) {
    p.flush(60000);
    REQUIRE(p.queued() == 0);
}

inline PaymentRequest sale(const std::string& id, const std::string& merchant = "m-safe", int64_t amount = 1000,
                    PaymentType type = PaymentType::sale) {
    PaymentRequest r;
    r.payment_id = id;
    r.type = type;
    r.merchant = {merchant, "5411", "DE"};
    r.amount = {amount, "EUR"};
    Instrument in;
    in.kind = InstrumentKind::card;
    // Each payment its own card: the velocity rules must not decline a test's sales.
    std::string digits = "4" + std::to_string(100000000000000ULL + std::hash<std::string>{}(id) % 800000000000000ULL);
    digits.resize(15);
    int sum = 0;
    for (int i = static_cast<int>(digits.size()) - 1, k = 1; i >= 0; --i, ++k) {
        int d = digits[static_cast<size_t>(i)] - '0';
        if (k % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    in.pan = digits + static_cast<char>('0' + (10 - sum % 10) % 10);
    in.expiry = "2912";
    r.instrument = in;
    r.created_at_ms = now_ms();
    return r;
}

inline PaymentRequest follow_up(const std::string& id, PaymentType type, int64_t amount, const PaymentResult& orig,
                         const std::string& merchant = "m-safe") {
    PaymentRequest r;
    r.payment_id = id;
    r.type = type;
    r.merchant = {merchant, "", ""};
    r.amount = {amount, "EUR"};
    r.original = OriginalRef{orig.payment_id, orig.channel, orig.channel_ref};
    r.created_at_ms = now_ms();
    return r;
}

inline void send_request(kafka::Producer& p, const Config& cfg, const PaymentRequest& r, const std::string& body = {}) {
    send(p, cfg.kafka.topics.requests, r.root_id(), body.empty() ? encode_request(r) : body);
}

// A sale of 100.00 and `refunds` refunds of 1.00 of it, each request padded with line breaks
// (JSON whitespace) to 65,536 bytes, the largest request there may be. Returns the
// payment_ids, the sale first.
inline std::vector<std::string> send_sale_and_padded_refunds(kafka::Producer& p, const Config& cfg, const std::string& run_id,
                                                      int refunds) {
    const auto s = sale(run_id + "-S", "m-safe", 10000);
    send_request(p, cfg, s);
    PaymentResult orig;  // the follow-ups name the original's channel; the router checks it
    orig.payment_id = s.payment_id;
    orig.channel = "acq-eu";
    orig.channel_ref = "ref";
    std::vector<std::string> ids{s.payment_id};
    for (int i = 0; i < refunds; ++i) {
        auto r = follow_up(run_id + "-R" + std::to_string(i), PaymentType::refund, 100, orig);
        std::string body = encode_request(r);
        body.insert(body.size() - 1, std::string(65536 - body.size(), '\n'));
        REQUIRE(body.size() == 65536);
        send_request(p, cfg, r, body);
        ids.push_back(r.payment_id);
    }
    return ids;
}

// Every result of the run by payment_id, read until each of `ids` has at least `min_each`.
inline std::multimap<std::string, PaymentResult> await_results(const Config& cfg, const std::vector<std::string>& ids,
                                                        size_t min_each = 1, int timeout_ms = 90000) {
    std::multimap<std::string, PaymentResult> by_id;
    for (const int64_t until = now_ms() + timeout_ms;;) {
        by_id.clear();
        for (const auto& rec : read_all(cfg, {cfg.kafka.topics.results}))
            if (auto r = decode_result(rec.value)) by_id.emplace(r->payment_id, *r);
        const bool done = std::all_of(ids.begin(), ids.end(), [&](const auto& id) { return by_id.count(id) >= min_each; });
        if (done || now_ms() > until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    for (const auto& id : ids) CHECK_MESSAGE(by_id.count(id) >= min_each, "results for " << id);
    return by_id;
}

inline std::string outcome(const PaymentResult& r) {
    return r.status == ResultStatus::rejected ? r.reason.code : std::string(to_string(r.status));
}

// The outcomes of every result of `id`, sorted, joined by spaces ("approved duplicate_request").
inline std::string outcomes(const std::multimap<std::string, PaymentResult>& by_id, const std::string& id) {
    std::vector<std::string> all;
    for (auto [it, end] = by_id.equal_range(id); it != end; ++it) all.push_back(outcome(it->second));
    std::sort(all.begin(), all.end());
    std::string out;
    for (const auto& o : all) out += (out.empty() ? "" : " ") + o;
    return out;
}

}  // namespace turnout::it
