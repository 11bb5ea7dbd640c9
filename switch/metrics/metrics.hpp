#pragma once
// The process's Prometheus metrics (docs/design.md, "Observability"), declared in one place. Stages resolve the
// series they need once and only increment on the hot path.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace turnout {

struct MetricsConfig;
class MetricsServer;

class Metrics {
public:
    static Metrics& get();

    // Serves /metrics, /livez and /readyz (metrics/metrics_server.hpp) on cfg.address:cfg.port
    // (port 0 = do not serve). Throws std::runtime_error naming the port and what to do when
    // it is taken.
    void serve(const MetricsConfig& cfg);
    ~Metrics();

    // Declared first: every family below lives in it.
    std::shared_ptr<prometheus::Registry> registry;

    prometheus::Family<prometheus::Counter>& records_in;
    prometheus::Family<prometheus::Counter>& records_out;
    prometheus::Family<prometheus::Counter>& dlq_records;
    prometheus::Family<prometheus::Counter>& results;
    prometheus::Family<prometheus::Counter>& risk_decisions;
    prometheus::Family<prometheus::Counter>& channel_calls;
    prometheus::Family<prometheus::Histogram>& end_to_end_latency;
    prometheus::Family<prometheus::Histogram>& channel_latency;
    prometheus::Family<prometheus::Counter>& batches_closed;
    prometheus::Family<prometheus::Counter>& settled_minor;
    prometheus::Family<prometheus::Histogram>& stage_latency;
    prometheus::Family<prometheus::Histogram>& stage_commit;
    prometheus::Family<prometheus::Gauge>& consumer_lag;
    prometheus::Family<prometheus::Counter>& transactions;
    prometheus::Family<prometheus::Gauge>& circuit_state;
    prometheus::Family<prometheus::Counter>& settled_amount;
    prometheus::Family<prometheus::Gauge>& open_batches;
    prometheus::Family<prometheus::Gauge>& overdue_batches;
    prometheus::Family<prometheus::Counter>& rules_reloads;
    prometheus::Family<prometheus::Counter>& risk_rule_hits;
    prometheus::Family<prometheus::Counter>& route_plans;
    prometheus::Family<prometheus::Counter>& health_reports;
    // ISO 8583 channels (connectors/iso8583).
    prometheus::Family<prometheus::Counter>& channel_reversals;
    prometheus::Family<prometheus::Counter>& channel_late_responses;
    prometheus::Family<prometheus::Counter>& channel_protocol_errors;
    prometheus::Family<prometheus::Gauge>& channel_connections;
    // Payment life cycle (router) and status inquiry (state role).
    prometheus::Family<prometheus::Counter>& life_cycle_rejections;
    prometheus::Family<prometheus::Gauge>& held_follow_ups;
    prometheus::Family<prometheus::Counter>& payment_inquiries;  // GET /payments/{id}
    // Asynchronous channels (http_json): pending payments, webhooks, status queries.
    prometheus::Family<prometheus::Gauge>& pending_payments;
    prometheus::Family<prometheus::Counter>& webhooks;
    prometheus::Family<prometheus::Counter>& channel_events;
    prometheus::Family<prometheus::Counter>& status_queries;
    // Card data protection (router): card numbers masked in free-text fields.
    prometheus::Family<prometheus::Counter>& card_numbers_masked;
    // Validation of what the stages read from internal topics.
    prometheus::Family<prometheus::Counter>& invalid_results;
    prometheus::Family<prometheus::Counter>& health_reports_ignored;
    // Partition-local state stores (kafka/state_store.hpp), by role, store and partition.
    prometheus::Family<prometheus::Gauge>& store_records;
    prometheus::Family<prometheus::Gauge>& store_bytes;
    prometheus::Family<prometheus::Counter>& store_restored_records;
    prometheus::Family<prometheus::Counter>& store_restore_seconds;
    prometheus::Family<prometheus::Counter>& store_restores;
    prometheus::Family<prometheus::Counter>& store_expired;
    // HTTP payments gateway (switch/gateway).
    prometheus::Family<prometheus::Counter>& gateway_requests;
    prometheus::Family<prometheus::Histogram>& gateway_request_seconds;
    prometheus::Family<prometheus::Gauge>& gateway_waiting;
    // Every HTTP listener (net/http_listener.hpp): connections and requests refused or dropped.
    prometheus::Family<prometheus::Counter>& listener_refused;
    // Always 1, labelled with the build's version and the process's role and instance.
    prometheus::Family<prometheus::Gauge>& build_info;

private:
    Metrics();
    std::unique_ptr<MetricsServer> server_;
};

// A stage's own series: records in/out and DLQ records by reason.
// Histogram with the latency buckets every Turnout duration uses (seconds).
prometheus::Histogram& latency_histogram(prometheus::Family<prometheus::Histogram>& f,
                                         const std::map<std::string, std::string>& labels);

class StageProbe {
public:
    explicit StageProbe(const std::string& stage);
    void in(size_t n = 1) { in_.Increment(static_cast<double>(n)); }
    void out(size_t n = 1) { out_.Increment(static_cast<double>(n)); }
    void dlq(const std::string& reason);
    void result(const std::string& status, const std::string& channel);

private:
    std::string stage_;
    prometheus::Counter& in_;
    prometheus::Counter& out_;
    std::mutex mu_;
    std::unordered_map<std::string, prometheus::Counter*> dlq_, results_;
};

}  // namespace turnout
