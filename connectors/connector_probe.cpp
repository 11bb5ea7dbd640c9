#include "connector_probe.hpp"

#include "metrics/metrics.hpp"

namespace turnout {
namespace {
CounterFamily& channel_calls_family() {
    static auto& f = declare_counter("turnout_channel_calls_total", "Calls to a channel, by channel and outcome");
    return f;
}
HistogramFamily& channel_latency_family() {
    static auto& f = declare_histogram("turnout_channel_latency_seconds", "Channel call latency");
    return f;
}
HistogramFamily& end_to_end_latency_family() {
    static auto& f = declare_histogram("turnout_end_to_end_latency_seconds", "From request creation to its final result");
    return f;
}
GaugeFamily& circuit_state_family() {
    static auto& f =
        declare_gauge("turnout_channel_circuit_state", "Channel circuit breaker: 0 closed, 1 half-open, 2 open");
    return f;
}
GaugeFamily& pending_payments_family() {
    static auto& f = declare_gauge("turnout_pending_payments",
                                   "Payments a channel answered pending and that have no final result yet");
    return f;
}
CounterFamily& channel_events_family() {
    static auto& f = declare_counter("turnout_channel_events_total",
                                     "Channel events read by the connector stage, by outcome (resolved, duplicate)");
    return f;
}
CounterFamily& status_queries_family() {
    static auto& f = declare_counter("turnout_status_queries_total",
                                     "Status queries for pending payments, by outcome (resolved, still_pending, expired)");
    return f;
}
prometheus::Counter& outcome(CounterFamily& f, const std::string& channel, const char* o) {
    return f.Add({{"channel", channel}, {"outcome", o}});
}
}  // namespace

prometheus::Counter& ConnectorProbe::call_series(const std::string& channel, const char* o) {
    return outcome(channel_calls_family(), channel, o);
}

ConnectorProbe::ConnectorProbe(const std::string& channel)
    : circuit_open(outcome(channel_calls_family(), channel, "circuit_open")),
      latency(latency_histogram(channel_latency_family(), {{"channel", channel}})),
      end_to_end(latency_histogram(end_to_end_latency_family(), {{"channel", channel}})),
      circuit_state(circuit_state_family().Add({{"channel", channel}})),
      pending(pending_payments_family().Add({{"channel", channel}})),
      event_resolved(outcome(channel_events_family(), channel, "resolved")),
      event_duplicate(outcome(channel_events_family(), channel, "duplicate")),
      event_unsigned(outcome(channel_events_family(), channel, "unsigned")),
      event_late(outcome(channel_events_family(), channel, "late")),
      query_resolved(outcome(status_queries_family(), channel, "resolved")),
      query_still_pending(outcome(status_queries_family(), channel, "still_pending")),
      query_expired(outcome(status_queries_family(), channel, "expired")),
      query_cancelled(outcome(status_queries_family(), channel, "cancelled")),
      approved_(outcome(channel_calls_family(), channel, "approved")),
      declined_(outcome(channel_calls_family(), channel, "declined")),
      soft_failure_(outcome(channel_calls_family(), channel, "soft_failure")),
      reversed_(outcome(channel_calls_family(), channel, "reversed")),
      failed_(outcome(channel_calls_family(), channel, "failed")),
      pending_call_(outcome(channel_calls_family(), channel, "pending")) {}

prometheus::Counter& ConnectorProbe::call(ChannelOutcome::Kind k) const {
    using K = ChannelOutcome::Kind;
    switch (k) {
        case K::approved: return approved_;
        case K::declined: return declined_;
        case K::reversed: return reversed_;
        case K::failed: return failed_;
        case K::pending: return pending_call_;
        default: return soft_failure_;
    }
}

}  // namespace turnout
