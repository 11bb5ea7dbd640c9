#include "loadgen/loadgen.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iomanip>
#include <unordered_map>
#include <unordered_set>

#include <boost/json.hpp>
#include <random>

#include "codec/messages.hpp"
#include "kafka/client.hpp"
#include "kafka/topic_reader.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "settlement/batch_book.hpp"
#include "domain/life_cycle.hpp"

namespace turnout {
namespace {

using Clock = std::chrono::steady_clock;

struct InFlight {
    Clock::time_point sent;
    bool original = false;  // a sale or authorize that may spawn a follow-up
    bool follow_up = false;
    bool expect_refusal = false;
};

double percentile(std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    const size_t idx = std::min(sorted.size() - 1, static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1);
    return sorted[idx];
}

class Run {
public:
    Run(const Config& cfg, const LoadgenOptions& o)
        : cfg_(cfg),
          o_(o),
          factory_(o.seed, o.run_id.empty() ? "lg" + std::to_string(now_ms()) : o.run_id, o.mix),
          producer_(cfg.kafka, {{"enable.idempotence", "true"},
                                {"linger.ms", "5"},
                                {"queue.buffering.max.messages", "1000000"},
                                {"message.max.bytes", "1000000"}}),
          results_(cfg.kafka, "turnout.loadgen." + std::to_string(now_ms()), {{"fetch.wait.max.ms", "10"}}) {
        const auto& t = cfg.kafka.topics;
        // Everything published from now on: results, and later the DLQ and batches of this run.
        const auto from = results_.end_positions({t.results});
        after_ = results_.end_positions({t.dlq, t.batches});
        (void)producer_.partitions(t.requests);  // metadata before the clock starts
        results_.assign(from);
    }

    LoadgenReport run() {
        const auto start = Clock::now();
        auto last_result = start;
        auto last_progress = start;
        // Leave room in the count for the life cycles' follow-ups (each sent after a result).
        const int64_t initial_budget =
            static_cast<int64_t>(static_cast<double>(o_.count) / (1 + 0.85 * expected_follow_ups(o_.mix)));
        int64_t initial_sent = 0, originals_outstanding = 0;
        bool filling = false;  // no follow-ups can come any more: the rest of the count is originals
        while (true) {
            const auto now = Clock::now();
            const double elapsed = std::chrono::duration<double>(now - start).count();
            int64_t allowed = o_.rate > 0 ? std::min<int64_t>(o_.count, static_cast<int64_t>(o_.rate * elapsed) + 1)
                                          : std::min<int64_t>(o_.count, r_.sent + 2000);
            while (r_.sent < allowed) {
                std::optional<GeneratedRequest> g;
                if (!follow_ups_.empty()) {
                    g = std::move(follow_ups_.front());
                    follow_ups_.pop_front();
                } else if (initial_sent < initial_budget || filling) {
                    g = factory_.next_initial();
                    ++initial_sent;
                } else {
                    filling = originals_outstanding == 0;
                    break;  // waiting for originals whose follow-ups fill the rest
                }
                const bool valid = g->expects_result && g->label.rfind("invalid", 0) != 0;
                const bool original = valid && g->type && !is_follow_up(*g->type);
                send(*g, original);
                if (original) ++originals_outstanding;
                if (valid && o_.duplicate_share > 0 && dup_rng_() % 1'000'000 < o_.duplicate_share * 1'000'000)
                    duplicates_.push_back(std::move(*g));
            }
            // Duplicates go out a little later than their original, as a retrying client's would.
            while (duplicates_.size() > 50 || (!duplicates_.empty() && r_.sent >= o_.count)) {
                send_duplicate(duplicates_.front());
                duplicates_.pop_front();
            }
            producer_.poll();

            results_.poll_batch(5, 2000, [&](const kafka::Record& r) {
                if (on_result(r.value)) --originals_outstanding;
                last_result = Clock::now();
            });
            if (o_.progress && now - last_progress > std::chrono::milliseconds(isatty(2) ? 250 : 5000)) {
                progress(elapsed, false);
                last_progress = now;
            }
            if (r_.sent >= o_.count && inflight_.empty() && duplicates_.empty() && dup_pending_.empty()) break;
            if (Clock::now() - last_result > std::chrono::seconds(o_.result_timeout_s) &&
                Clock::now() - start > std::chrono::seconds(o_.result_timeout_s))
                break;
        }
        producer_.flush(10000);
        r_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        r_.throughput = r_.seconds > 0 ? static_cast<double>(r_.received) / r_.seconds : 0;
        if (o_.progress) progress(r_.seconds, true);
        r_.missing = static_cast<int64_t>(inflight_.size());
        r_.missing += static_cast<int64_t>(dup_pending_.size());
        for (const auto& [id, f] : inflight_) {
            if (r_.missing_sample.size() >= 10) break;
            r_.missing_sample.push_back(id);
        }
        std::sort(latencies_.begin(), latencies_.end());
        r_.p50_ms = percentile(latencies_, 0.50);
        r_.p95_ms = percentile(latencies_, 0.95);
        r_.p99_ms = percentile(latencies_, 0.99);
        r_.max_ms = latencies_.empty() ? 0 : latencies_.back();
        for (const auto& [root, lc] : payments_) ++r_.payment_states[lc.status()];
        if (o_.wait_settlement) await_settlement();
        return r_;
    }

private:
    void send(const GeneratedRequest& g, bool original) {
        kafka::OutRecord rec{cfg_.kafka.topics.requests, g.key, g.value, kafka::descend_headers(std::string_view{})};
        if (!producer_.produce(rec)) {
            ++r_.send_errors;
            return;
        }
        ++r_.sent;
        ++r_.sent_by_label[g.label];
        if (g.expects_result) {
            ++r_.expected_results;
            const bool follow_up = g.type && is_follow_up(*g.type) && g.label.rfind("invalid", 0) != 0;
            inflight_.emplace(g.payment_id, InFlight{Clock::now(), original, follow_up, g.expect_refusal});
            if (g.expect_refusal) ++r_.refusals_planned;
        }
    }

    void send_duplicate(const GeneratedRequest& g) {
        kafka::OutRecord rec{cfg_.kafka.topics.requests, g.key, g.value, kafka::descend_headers(std::string_view{})};
        if (!producer_.produce(rec)) {
            ++r_.send_errors;
            return;
        }
        ++r_.duplicates_sent;
        ++dup_pending_[g.payment_id];
    }

    // Returns true when the result answers an original (sale/authorize) of this run.
    bool on_result(std::string_view value) {
        auto res = decode_result(value);
        if (!res) return false;
        if (res->status == ResultStatus::rejected && res->reason.code == "duplicate_request") {
            auto d = dup_pending_.find(res->payment_id);
            if (d == dup_pending_.end()) {
                ++r_.unexpected;
            } else {
                ++r_.duplicate_answers;
                if (--d->second == 0) dup_pending_.erase(d);
            }
            return false;
        }
        auto it = inflight_.find(res->payment_id);
        if (it == inflight_.end()) {
            (done_.count(res->payment_id) ? r_.doubled : r_.unexpected)++;
            return false;
        }
        const bool original = it->second.original;
        count_step(*res, it->second);
        latencies_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - it->second.sent).count());
        inflight_.erase(it);
        done_.insert(res->payment_id);
        ++r_.received;
        ++r_.by_status[std::string(to_string(res->status))];
        if (auto cr = clearing_record_for(*res)) r_.expected_net[cr->currency] += cr->amount;
        if (auto f = factory_.follow_up_for(*res); f && r_.sent + static_cast<int64_t>(follow_ups_.size()) < o_.count)
            follow_ups_.push_back(std::move(*f));
        return original;
    }

    void count_step(const PaymentResult& res, const InFlight& f) {
        if (!res.type || (!f.original && !f.follow_up)) return;  // deliberately invalid input
        std::string outcome(to_string(res.status));
        if (res.status == ResultStatus::rejected) outcome += ":" + res.reason.code;
        ++r_.steps[std::string(to_string(*res.type))][outcome];
        if (f.follow_up) {
            const bool refused = res.status == ResultStatus::rejected;
            if (f.expect_refusal && refused) ++r_.refused_as_planned;
            if (f.expect_refusal != refused || (!refused && res.status != ResultStatus::approved)) ++r_.steps_unexpected;
        }
        const std::string& root = res.root_id.empty() ? res.payment_id : res.root_id;
        auto lc = payments_.find(root);
        if (lc == payments_.end()) {
            auto fresh = life_cycle_from_result(res);
            if (!fresh) return;
            lc = payments_.emplace(root, std::move(*fresh)).first;
        }
        apply_result(lc->second, res, true);
        lc->second.history.clear();  // each result arrives here once; only the amounts matter
        if (++steps_of_[root] > longest_ && lc->second.original_status == ResultStatus::approved) {
            longest_ = steps_of_[root];
            r_.sample_payment = root;
        }
    }

    // The live view: totals, the rate and p99 latency since the last line, statuses so far.
    void progress(double elapsed, bool final) {
        const size_t since = std::min(latencies_.size(), last_progress_count_);
        std::vector<double> recent(latencies_.begin() + static_cast<std::ptrdiff_t>(since), latencies_.end());
        std::sort(recent.begin(), recent.end());
        const double interval = elapsed - last_progress_at_;
        const double rate = interval > 0 ? static_cast<double>(recent.size()) / interval : 0.0;
        auto count = [&](const char* s) {
            auto it = r_.by_status.find(s);
            return static_cast<long long>(it == r_.by_status.end() ? 0 : it->second);
        };
        std::fprintf(stderr,
                     "%s  %5.1fs  sent %lld/%lld  results %lld  in flight %zu  %6.0f/s  p99 %6.0f ms  "
                     "approved %lld declined %lld failed %lld rejected %lld%s",
                     isatty(2) ? "\r" : "", elapsed, static_cast<long long>(r_.sent), static_cast<long long>(o_.count),
                     static_cast<long long>(r_.received), inflight_.size(), final ? r_.throughput : rate,
                     percentile(recent, 0.99), count("approved"), count("declined"), count("failed"), count("rejected"),
                     isatty(2) && !final ? "   " : "\n");
        std::fflush(stderr);
        last_progress_count_ = latencies_.size();
        last_progress_at_ = elapsed;
    }

    void await_settlement() {
        r_.settlement_checked = true;
        kafka::TopicReader c(cfg_.kafka, "turnout.loadgen.settle." + std::to_string(now_ms()));
        c.assign(after_);
        const int timeout = o_.settlement_timeout_s > 0
                                ? o_.settlement_timeout_s
                                : cfg_.settlement.window_seconds + cfg_.settlement.grace_seconds + 30;
        const auto deadline = Clock::now() + std::chrono::seconds(timeout);
        const int64_t invalid_sent = [&] {
            int64_t n = 0;
            for (const auto& [label, count] : r_.sent_by_label)
                if (label.rfind("invalid", 0) == 0) n += count;
            return n;
        }();
        int64_t dlq = 0;
        while (Clock::now() < deadline) {
            c.poll(200, [&](const kafka::Record& m) {
                if (m.topic == cfg_.kafka.topics.batches) {
                    auto b = decode_batch_summary(m.value);
                    if (b && b->status == "closed") {  // a `settled` update repeats a batch already counted
                        ++r_.batches;
                        r_.settled_records += b->record_count;
                        r_.settled_net[b->currency] += b->net;
                    }
                } else {
                    ++dlq;
                    ++r_.dlq_by_reason[std::string(m.header("turnout.error.reason"))];
                }
            });
            auto nonzero = [](const std::map<std::string, int64_t>& m) {
                std::map<std::string, int64_t> out;
                for (const auto& [k, v] : m)
                    if (v != 0) out[k] = v;
                return out;
            };
            r_.settlement_matches = nonzero(r_.settled_net) == nonzero(r_.expected_net);
            if (r_.settlement_matches && dlq >= invalid_sent) break;
        }
    }

    const Config& cfg_;
    const LoadgenOptions& o_;
    RequestFactory factory_;
    kafka::Producer producer_;
    kafka::TopicReader results_;
    std::vector<kafka::Position> after_;
    std::unordered_map<std::string, InFlight> inflight_;
    std::unordered_set<std::string> done_;
    std::unordered_map<std::string, PaymentLifeCycle> payments_;  // by root id
    std::unordered_map<std::string, int> steps_of_;               // results per root id
    int longest_ = 0;
    std::deque<GeneratedRequest> follow_ups_;
    std::deque<GeneratedRequest> duplicates_;
    std::unordered_map<std::string, int> dup_pending_;  // duplicates sent, not yet answered
    std::mt19937_64 dup_rng_{12345};
    std::vector<double> latencies_;
    size_t last_progress_count_ = 0;
    double last_progress_at_ = 0;
    LoadgenReport r_;
};

}  // namespace

LoadgenReport run_loadgen(const Config& cfg, const LoadgenOptions& opts) { return Run(cfg, opts).run(); }

void print_report(const LoadgenReport& r, std::ostream& out) {
    out << std::fixed << std::setprecision(1);
    out << "\n== Turnout loadgen summary ==\n";
    out << "requests sent        " << r.sent << " (" << r.expected_results << " expecting a result)\n";
    out << "results received     " << r.received << " in " << r.seconds << " s  → " << std::setprecision(0)
        << r.throughput << " payments/s\n"
        << std::setprecision(1);
    out << "end-to-end latency   p50 " << r.p50_ms << " ms  p95 " << r.p95_ms << " ms  p99 " << r.p99_ms
        << " ms  max " << r.max_ms << " ms\n";
    out << "by status           ";
    for (const auto& [s, n] : r.by_status) out << " " << s << "=" << n;
    out << "\nsent by kind        ";
    for (const auto& [s, n] : r.sent_by_label) out << " " << s << "=" << n;
    if (!r.steps.empty()) {
        out << "\nlife cycles          (each step sent once the previous result arrived)";
        for (const auto& [step, outcomes] : r.steps) {
            char label[32];
            std::snprintf(label, sizeof label, "\n  %-18s", step.c_str());
            out << label;
            for (const auto& [o, n] : outcomes) out << " " << o << "=" << n;
        }
        out << "\npayment states      ";
        for (const auto& [st, n] : r.payment_states) out << " " << st << "=" << n;
        out << "\nlife-cycle rules     " << r.refused_as_planned << " of " << r.refusals_planned
            << " invalid steps refused, " << r.steps_unexpected << " unexpected outcomes";
        if (!r.sample_payment.empty()) out << "\nlongest life cycle   turnout status " << r.sample_payment;
    }
    out << "\nduplicates sent " << r.duplicates_sent << ", answered duplicate_request " << r.duplicate_answers;
    out << "\nmissing " << r.missing << "  doubled " << r.doubled << "  unexpected " << r.unexpected << "  send errors "
        << r.send_errors << "\n";
    for (const auto& id : r.missing_sample) out << "  missing: " << id << "\n";
    if (r.settlement_checked) {
        out << "dead-letter queue   ";
        for (const auto& [s, n] : r.dlq_by_reason) out << " " << s << "=" << n;
        out << "\nsettlement           " << r.batches << " batches, " << r.settled_records << " clearing records\n";
        std::map<std::string, int> currencies;
        for (const auto& [c, v] : r.expected_net) currencies[c];
        for (const auto& [c, v] : r.settled_net) currencies[c];
        for (const auto& [c, unused] : currencies) {
            const int64_t exp = r.expected_net.count(c) ? r.expected_net.at(c) : 0;
            const int64_t got = r.settled_net.count(c) ? r.settled_net.at(c) : 0;
            out << "  " << c << "  settled net " << format_money(got, c) << "  results net " << format_money(exp, c)
                << "  difference " << (got - exp) << "\n";
        }
        out << "settlement " << (r.settlement_matches ? "MATCHES" : "DOES NOT MATCH") << " the results to the minor unit\n";
    }
    out << (r.ok() ? "OK: every payment got exactly one result\n" : "FAILED\n");
}

std::string report_json(const LoadgenReport& r) {
    boost::json::object o{{"sent", r.sent},
                          {"duplicates_sent", r.duplicates_sent},
                          {"expected_results", r.expected_results},
                          {"received", r.received},
                          {"missing", r.missing},
                          {"doubled", r.doubled},
                          {"unexpected", r.unexpected},
                          {"duplicate_answers", r.duplicate_answers},
                          {"send_errors", r.send_errors},
                          {"seconds", r.seconds},
                          {"throughput", r.throughput},
                          {"latency_ms", boost::json::object{{"p50", r.p50_ms}, {"p95", r.p95_ms}, {"p99", r.p99_ms}, {"max", r.max_ms}}},
                          {"batches", r.batches},
                          {"settled_records", r.settled_records},
                          {"settlement_checked", r.settlement_checked},
                          {"settlement_matches", r.settlement_matches},
                          {"ok", r.ok()}};
    auto to_obj = [](const std::map<std::string, int64_t>& m) {
        boost::json::object x;
        for (const auto& [k, v] : m) x[k] = v;
        return x;
    };
    o["by_status"] = to_obj(r.by_status);
    o["sent_by_label"] = to_obj(r.sent_by_label);
    o["dlq_by_reason"] = to_obj(r.dlq_by_reason);
    boost::json::object steps;
    for (const auto& [step, outcomes] : r.steps) steps[step] = to_obj(outcomes);
    o["life_cycle_steps"] = std::move(steps);
    o["payment_states"] = to_obj(r.payment_states);
    o["refusals_planned"] = r.refusals_planned;
    o["refused_as_planned"] = r.refused_as_planned;
    o["steps_unexpected"] = r.steps_unexpected;
    o["sample_payment"] = r.sample_payment;
    o["expected_net"] = to_obj(r.expected_net);
    o["settled_net"] = to_obj(r.settled_net);
    boost::json::array missing;
    for (const auto& id : r.missing_sample) missing.emplace_back(id);
    o["missing_sample"] = std::move(missing);
    return boost::json::serialize(o);
}

}  // namespace turnout
