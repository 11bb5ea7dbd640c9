#include "metrics/metrics.hpp"

#include <string_view>

#include "metrics/build_info.hpp"
#include "metrics/health.hpp"
#include "metrics/log.hpp"
#include "metrics/metrics_server.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {
prometheus::Histogram::BucketBoundaries latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
}  // namespace

Metrics& Metrics::get() {
    static Metrics m;
    return m;
}

Metrics::Metrics()
    : registry(std::make_shared<prometheus::Registry>()),
      records_in(prometheus::BuildCounter()
                     .Name("turnout_stage_records_in_total")
                     .Help("Records consumed by a stage")
                     .Register(*registry)),
      records_out(prometheus::BuildCounter()
                      .Name("turnout_stage_records_out_total")
                      .Help("Records produced by a stage")
                      .Register(*registry)),
      dlq_records(prometheus::BuildCounter()
                      .Name("turnout_dlq_records_total")
                      .Help("Records sent to the dead-letter queue, by stage and reason")
                      .Register(*registry)),
      results(prometheus::BuildCounter()
                  .Name("turnout_results_total")
                  .Help("Final payment results, by status and channel")
                  .Register(*registry)),
      risk_decisions(prometheus::BuildCounter()
                         .Name("turnout_risk_decisions_total")
                         .Help("Risk decisions, by decision")
                         .Register(*registry)),
      channel_calls(prometheus::BuildCounter()
                        .Name("turnout_channel_calls_total")
                        .Help("Calls to a channel, by channel and outcome")
                        .Register(*registry)),
      end_to_end_latency(prometheus::BuildHistogram()
                             .Name("turnout_end_to_end_latency_seconds")
                             .Help("From request creation to its final result")
                             .Register(*registry)),
      channel_latency(prometheus::BuildHistogram()
                          .Name("turnout_channel_latency_seconds")
                          .Help("Channel call latency")
                          .Register(*registry)),
      batches_closed(prometheus::BuildCounter()
                         .Name("turnout_settlement_batches_total")
                         .Help("Settlement batches closed, by channel and currency")
                         .Register(*registry)),
      settled_minor(prometheus::BuildCounter()
                        .Name("turnout_settlement_records_total")
                        .Help("Clearing records assigned to a batch, by channel and currency")
                        .Register(*registry)),
      stage_latency(prometheus::BuildHistogram()
                        .Name("turnout_stage_latency_seconds")
                        .Help("Age of a record (since it was written) when a stage processes it")
                        .Register(*registry)),
      stage_commit(prometheus::BuildHistogram()
                       .Name("turnout_stage_commit_seconds")
                       .Help("Time a stage spends committing its transaction (offsets, records, commit)")
                       .Register(*registry)),
      consumer_lag(prometheus::BuildGauge()
                       .Name("turnout_consumer_lag")
                       .Help("Records between a stage's committed position and the partition end (librdkafka statistics)")
                       .Register(*registry)),
      transactions(prometheus::BuildCounter()
                       .Name("turnout_transactions_total")
                       .Help("Kafka transactions ended by a stage, by outcome (commit, abort)")
                       .Register(*registry)),
      circuit_state(prometheus::BuildGauge()
                        .Name("turnout_channel_circuit_state")
                        .Help("Channel circuit breaker: 0 closed, 1 half-open, 2 open")
                        .Register(*registry)),
      settled_amount(prometheus::BuildCounter()
                         .Name("turnout_settlement_amount_minor_total")
                         .Help("Minor units assigned to settlement batches, by channel, currency and direction")
                         .Register(*registry)),
      open_batches(prometheus::BuildGauge()
                       .Name("turnout_settlement_open_batches")
                       .Help("Settlement batches open in this process")
                       .Register(*registry)),
      overdue_batches(prometheus::BuildGauge()
                          .Name("turnout_settlement_overdue_batches")
                          .Help("Open settlement batches whose window end + grace has passed")
                          .Register(*registry)),
      rules_reloads(prometheus::BuildCounter()
                        .Name("turnout_rules_reloads_total")
                        .Help("Hot reloads of the routing and risk rules, by outcome (applied, refused)")
                        .Register(*registry)),
      risk_rule_hits(prometheus::BuildCounter()
                         .Name("turnout_risk_rule_hits_total")
                         .Help("Risk rules hit, by rule name")
                         .Register(*registry)),
      route_plans(prometheus::BuildCounter()
                      .Name("turnout_route_plans_total")
                      .Help("Route plans chosen, by action")
                      .Register(*registry)),
      health_reports(prometheus::BuildCounter()
                         .Name("turnout_channel_health_reports_total")
                         .Help("Channel health reports published on channels.health, by channel")
                         .Register(*registry)),
      channel_reversals(prometheus::BuildCounter()
                            .Name("turnout_channel_reversals_total")
                            .Help("Reversals of unanswered channel requests, by channel and outcome "
                                  "(sent, acknowledged, original_not_found, refused, unanswered, recovered)")
                            .Register(*registry)),
      channel_late_responses(prometheus::BuildCounter()
                                 .Name("turnout_channel_late_responses_total")
                                 .Help("Channel responses that arrived after their request timed out")
                                 .Register(*registry)),
      channel_protocol_errors(prometheus::BuildCounter()
                                  .Name("turnout_channel_protocol_errors_total")
                                  .Help("Unreadable or unmatched messages from a channel, by channel and kind")
                                  .Register(*registry)),
      channel_connections(prometheus::BuildGauge()
                              .Name("turnout_channel_connections")
                              .Help("Open connections to a channel's host")
                              .Register(*registry)),
      life_cycle_rejections(prometheus::BuildCounter()
                                .Name("turnout_life_cycle_rejections_total")
                                .Help("Captures, voids and refunds the router refused by a life-cycle rule, by reason")
                                .Register(*registry)),
      held_follow_ups(prometheus::BuildGauge()
                          .Name("turnout_life_cycle_held_follow_ups")
                          .Help("Captures, voids and refunds the router holds until their original has a result")
                          .Register(*registry)),
      payment_inquiries(prometheus::BuildCounter()
                            .Name("turnout_payment_inquiries_total")
                            .Help("GET /payments/{id} requests served by the state role, by outcome")
                            .Register(*registry)),
      pending_payments(prometheus::BuildGauge()
                           .Name("turnout_pending_payments")
                           .Help("Payments a channel answered pending and that have no final result yet")
                           .Register(*registry)),
      webhooks(prometheus::BuildCounter()
                   .Name("turnout_webhooks_total")
                   .Help("Webhook deliveries received, by channel and outcome (accepted or why rejected)")
                   .Register(*registry)),
      channel_events(prometheus::BuildCounter()
                         .Name("turnout_channel_events_total")
                         .Help("Channel events read by the connector stage, by outcome (resolved, duplicate)")
                         .Register(*registry)),
      status_queries(prometheus::BuildCounter()
                         .Name("turnout_status_queries_total")
                         .Help("Status queries for pending payments, by outcome (resolved, still_pending, expired)")
                         .Register(*registry)),
      card_numbers_masked(prometheus::BuildCounter()
                              .Name("turnout_card_numbers_masked_total")
                              .Help("Card numbers the router masked in request metadata and customer ids")
                              .Register(*registry)),
      invalid_results(prometheus::BuildCounter()
                          .Name("turnout_invalid_results_total")
                          .Help("Results read from an internal topic that broke a validation rule and were dead-lettered, "
                                "by stage and field")
                          .Register(*registry)),
      health_reports_ignored(prometheus::BuildCounter()
                                 .Name("turnout_channel_health_reports_ignored_total")
                                 .Help("channels.health reports the router left out of its table, by reason "
                                       "(from_future, unreadable)")
                                 .Register(*registry)),
      store_records(prometheus::BuildGauge()
                        .Name("turnout_store_records")
                        .Help("Entries of a partition-local state store (RocksDB estimate), by role, store and partition")
                        .Register(*registry)),
      store_bytes(prometheus::BuildGauge()
                      .Name("turnout_store_bytes")
                      .Help("Bytes of a partition-local state store on disk and in memtables, by role, store and partition")
                      .Register(*registry)),
      store_restored_records(prometheus::BuildCounter()
                                 .Name("turnout_store_restored_records_total")
                                 .Help("Changelog records replayed into state stores on assignment, by role and store")
                                 .Register(*registry)),
      store_restore_seconds(prometheus::BuildCounter()
                                .Name("turnout_store_restore_seconds_total")
                                .Help("Seconds spent restoring state stores from their changelogs, by role and store")
                                .Register(*registry)),
      store_restores(prometheus::BuildCounter()
                         .Name("turnout_store_restores_total")
                         .Help("State store restores on assignment, by role, store and kind (tail: from the local "
                               "checkpoint; full: no local copy)")
                         .Register(*registry)),
      store_expired(prometheus::BuildCounter()
                        .Name("turnout_store_expired_total")
                        .Help("State store entries removed because their retention ran out, by role and store")
                        .Register(*registry)),
      gateway_requests(prometheus::BuildCounter()
                           .Name("turnout_gateway_requests_total")
                           .Help("HTTP requests answered by the gateway, by method and status code")
                           .Register(*registry)),
      gateway_request_seconds(prometheus::BuildHistogram()
                                  .Name("turnout_gateway_request_seconds")
                                  .Help("From a gateway request read to its answer written")
                                  .Register(*registry)),
      gateway_waiting(prometheus::BuildGauge()
                          .Name("turnout_gateway_waiting")
                          .Help("POST /v1/payments requests waiting for their final result")
                          .Register(*registry)),
      listener_refused(prometheus::BuildCounter()
                           .Name("turnout_listener_refused_total")
                           .Help("Connections and requests an HTTP listener refused or dropped, by listener and reason "
                                 "(over_cap, header_timeout, body_timeout, body_too_large, header_too_large, "
                                 "bad_request, unauthorized)")
                           .Register(*registry)),
      build_info(prometheus::BuildGauge()
                     .Name("turnout_build_info")
                     .Help("Always 1: the build's version and the process's role and instance")
                     .Register(*registry)) {}

Metrics::~Metrics() = default;

void Metrics::serve(const MetricsConfig& cfg) {
    if (cfg.port <= 0 || server_) return;
    server_ = std::make_unique<MetricsServer>(cfg, registry);
}

prometheus::Histogram& latency_histogram(prometheus::Family<prometheus::Histogram>& f,
                                         const std::map<std::string, std::string>& labels) {
    return f.Add(labels, latency_buckets());
}

StageProbe::StageProbe(const std::string& stage)
    : stage_(stage),
      in_(Metrics::get().records_in.Add({{"stage", stage}})),
      out_(Metrics::get().records_out.Add({{"stage", stage}})) {}

void StageProbe::dlq(const std::string& reason) {
    std::lock_guard lock(mu_);
    auto& c = dlq_[reason];
    if (!c) c = &Metrics::get().dlq_records.Add({{"stage", stage_}, {"reason", reason}});
    c->Increment();
}

void StageProbe::result(const std::string& status, const std::string& channel) {
    std::lock_guard lock(mu_);
    auto& c = results_[status + '\0' + channel];
    if (!c) c = &Metrics::get().results.Add({{"status", status}, {"channel", channel.empty() ? "none" : channel}});
    c->Increment();
}

}  // namespace turnout

namespace turnout {

void set_process_identity(const std::string& role, const std::string& instance) {
    const std::string version(build_version());
    set_log_identity(version, role, instance);
    Metrics::get().build_info.Add({{"version", version}, {"role", role}, {"instance", instance}}).Set(1);
}

}  // namespace turnout
