#include "bench/history_writer.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "codec/request_decoder.hpp"
#include "kafka/client.hpp"
#include "kafka/topic_reader.hpp"
#include "model/time.hpp"
#include "domain/life_cycle_ledger.hpp"
#include "state/status_query.hpp"

namespace turnout {
namespace {

constexpr const char* kCurrencies[] = {"EUR", "USD", "GBP"};

PaymentRequest request(std::string id, PaymentType type, const std::string& merchant, int64_t amount,
                       const std::string& currency, int64_t at_ms) {
    PaymentRequest r;
    r.payment_id = std::move(id);
    r.type = type;
    r.merchant.id = merchant;
    r.amount = {amount, currency};
    r.created_at_ms = at_ms;
    return r;
}

PaymentResult approved(const PaymentRequest& q, const std::string& root, const std::string& channel, int64_t n,
                       int64_t at_ms) {
    PaymentResult r;
    r.payment_id = q.payment_id;
    r.root_id = root;
    r.type = q.type;
    r.status = ResultStatus::approved;
    r.amount = q.amount;
    r.merchant_id = q.merchant.id;
    r.channel = channel;
    r.channel_ref = channel + "-" + std::to_string(n) + "-" + q.payment_id.substr(q.payment_id.rfind('-') + 1);
    r.approval_code = std::to_string(100000 + n % 900000);
    r.times.created_at = at_ms - 40;
    r.times.completed_at = at_ms;
    return r;
}

struct Delivered {
    std::atomic<int64_t> acked{0};
    std::atomic<int64_t> failed{0};
};

}  // namespace

SyntheticPayment synthetic_payment(const std::string& prefix, int64_t n, const std::string& channel, int64_t at_ms) {
    SyntheticPayment p;
    const bool authorize = n % 4 == 1;
    const bool refund = authorize ? n % 12 == 1 : n % 10 == 3;
    const std::string merchant = "m-" + std::to_string(1 + n % 200);
    const std::string currency = kCurrencies[(n / 7) % 3];
    const int64_t amount = 100 * (1 + (n * 7919) % 2000);  // whole units, like the load generator's approvals
    const auto root_req = request(prefix + (authorize ? "-a" : "-s") + std::to_string(n),
                                  authorize ? PaymentType::authorize : PaymentType::sale, merchant, amount, currency,
                                  at_ms);
    p.root_id = root_req.payment_id;
    p.payment_ids.push_back(p.root_id);

    // The follow-ups, each answered a minute after the previous step.
    std::vector<PaymentRequest> steps;
    if (authorize)
        steps.push_back(request(prefix + "-c" + std::to_string(n), PaymentType::capture, merchant, amount, currency,
                                at_ms + 60000));
    if (refund)
        steps.push_back(request(prefix + "-r" + std::to_string(n), PaymentType::refund, merchant, amount / 2, currency,
                                at_ms + 60000 * (1 + static_cast<int64_t>(steps.size()))));

    const auto root_res = approved(root_req, p.root_id, channel, n, at_ms);
    p.ledger = open_life_cycle(root_req, at_ms - 40);
    apply_result(p.ledger, root_res, false);
    p.state = *life_cycle_from_result(root_res);
    apply_result(p.state, root_res, true);
    for (auto& q : steps) {
        q.original = OriginalRef{p.root_id, channel, root_res.channel_ref};
        const auto res = approved(q, p.root_id, channel, n, q.created_at_ms);
        reserve(p.ledger, q);
        apply_result(p.ledger, res, false);
        apply_result(p.state, res, true);
        p.payment_ids.push_back(q.payment_id);
    }
    return p;
}

std::string HistoryResult::json() const {
    std::ostringstream o;
    o << "{\"payments\":" << payments << ",\"records\":" << records << ",\"failed\":" << failed
      << ",\"bytes\":" << bytes << ",\"seconds\":" << seconds
      << ",\"records_per_s\":" << (seconds > 0 ? static_cast<double>(records) / seconds : 0)
      << ",\"mib_per_s\":" << (seconds > 0 ? static_cast<double>(bytes) / seconds / (1 << 20) : 0)
      << ",\"by_topic\":{\"lifecycle\":" << ledger_records
      << ",\"state\":" << state_records << "}}";
    return o.str();
}

HistoryResult write_history(const Config& cfg, const HistoryOptions& opts) {
    const auto& t = cfg.kafka.topics;
    require_co_partitioned(cfg.kafka);  // requests, results, state, lifecycle
    const int32_t parts = partition_count(cfg.kafka, t.requests);
    if (cfg.channels.empty()) throw std::runtime_error("the configuration names no channel");
    if (!valid_payment_id(opts.prefix + "-s" + std::to_string(opts.payments)))
        throw std::runtime_error("--prefix `" + opts.prefix + "` does not make valid payment_ids");

    Delivered delivery;
    // Plain idempotent producer: large batches, lz4; the broker's CreateTime ("now") stamps
    // every record.
    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"},
                                         {"linger.ms", "50"},
                                         {"batch.num.messages", "100000"},
                                         {"batch.size", "1000000"},
                                         {"compression.type", "lz4"},
                                         {"queue.buffering.max.messages", "1000000"},
                                         {"queue.buffering.max.kbytes", "1048576"}});
    const kafka::DeliveryFn count = [&delivery](const kafka::Delivery& d) {
        if (d.delivered) {
            delivery.acked.fetch_add(1, std::memory_order_relaxed);
        } else if (delivery.failed.fetch_add(1) < 5) {
            spdlog::error("bench-history: a record was not written: {}", d.error);
        }
    };

    HistoryResult res;
    int64_t produced = 0;
    auto produce = [&](const std::string& topic, int32_t p, const std::string& key, std::string value) {
        res.bytes += static_cast<int64_t>(key.size() + value.size());
        std::string why;
        if (!producer.produce({topic, key, std::move(value), {}, p}, count, why))
            throw std::runtime_error("bench-history: produce: " + why);
        if (++produced % 1000 == 0) producer.poll(0);
    };

    const int64_t now = now_ms();
    // The payments were made over the last week (their follow-ups minutes later); the records
    // themselves are written now.
    const int64_t week = int64_t{7} * 24 * 3600 * 1000;
    const int64_t step = opts.payments > 0 ? std::max<int64_t>(1, week / opts.payments) : 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto last_log = t0;
    for (int64_t n = 0; n < opts.payments; ++n) {
        const auto& channel = cfg.channels[static_cast<size_t>(n) % cfg.channels.size()].id;
        const auto sp = synthetic_payment(opts.prefix, n, channel, now - week + n * step);
        const int32_t p = partition_for_key(sp.root_id, parts);
        produce(t.lifecycle, p, sp.root_id, LifeCycleLedger::encode_entry(sp.ledger, {}));
        ++res.ledger_records;
        produce(t.state, p, sp.root_id, encode_life_cycle(sp.state));
        ++res.state_records;
        ++res.payments;
        if (const auto now_t = std::chrono::steady_clock::now(); now_t - last_log > std::chrono::seconds(10)) {
            last_log = now_t;
            spdlog::info("bench-history: {} of {} payments, {} records acknowledged", n + 1, opts.payments,
                         delivery.acked.load());
        }
    }
    while (producer.queued() > 0) producer.flush(1000);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.records = delivery.acked.load();
    res.failed = delivery.failed.load();
    return res;
}

}  // namespace turnout
