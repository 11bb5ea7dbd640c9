#include "connector_probe.hpp"

#include "metrics/metrics.hpp"

namespace turnout {
namespace {
prometheus::Counter& outcome(prometheus::Family<prometheus::Counter>& f, const std::string& channel, const char* o) {
    return f.Add({{"channel", channel}, {"outcome", o}});
}
}  // namespace

ConnectorProbe::ConnectorProbe(const std::string& channel)
    : circuit_open(outcome(Metrics::get().channel_calls, channel, "circuit_open")),
      latency(latency_histogram(Metrics::get().channel_latency, {{"channel", channel}})),
      end_to_end(latency_histogram(Metrics::get().end_to_end_latency, {{"channel", channel}})),
      circuit_state(Metrics::get().circuit_state.Add({{"channel", channel}})),
      pending(Metrics::get().pending_payments.Add({{"channel", channel}})),
      event_resolved(outcome(Metrics::get().channel_events, channel, "resolved")),
      event_duplicate(outcome(Metrics::get().channel_events, channel, "duplicate")),
      event_unsigned(outcome(Metrics::get().channel_events, channel, "unsigned")),
      event_late(outcome(Metrics::get().channel_events, channel, "late")),
      query_resolved(outcome(Metrics::get().status_queries, channel, "resolved")),
      query_still_pending(outcome(Metrics::get().status_queries, channel, "still_pending")),
      query_expired(outcome(Metrics::get().status_queries, channel, "expired")),
      query_cancelled(outcome(Metrics::get().status_queries, channel, "cancelled")),
      approved_(outcome(Metrics::get().channel_calls, channel, "approved")),
      declined_(outcome(Metrics::get().channel_calls, channel, "declined")),
      soft_failure_(outcome(Metrics::get().channel_calls, channel, "soft_failure")),
      reversed_(outcome(Metrics::get().channel_calls, channel, "reversed")),
      failed_(outcome(Metrics::get().channel_calls, channel, "failed")),
      pending_call_(outcome(Metrics::get().channel_calls, channel, "pending")) {}

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
