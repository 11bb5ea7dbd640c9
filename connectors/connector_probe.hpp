#pragma once
// The connector stage's series for one channel (docs/metrics.md, "Channels"), declared in
// connector_probe.cpp and all resolved when the stage is made: the record path only increments.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <string>

#include "connector.hpp"
#include "metrics/metrics.hpp"

namespace turnout {

struct ConnectorProbe {
    explicit ConnectorProbe(const std::string& channel);

    // turnout_channel_calls_total by the call's outcome.
    prometheus::Counter& call(ChannelOutcome::Kind k) const;
    // turnout_channel_calls_total for an outcome a connector counts itself (idempotent_replay,
    // unknown_queried, busy_retry); resolve it when the connector is made.
    static prometheus::Counter& call_series(const std::string& channel, const char* outcome);
    prometheus::Counter& circuit_open;  // calls not made: the circuit was open
    prometheus::Histogram& latency;     // turnout_channel_latency_seconds
    prometheus::Histogram& end_to_end;  // turnout_end_to_end_latency_seconds
    prometheus::Gauge& circuit_state;
    prometheus::Gauge& pending;  // payments waiting in payments.pending
    // turnout_channel_events_total by outcome.
    prometheus::Counter& event_resolved;
    prometheus::Counter& event_duplicate;
    prometheus::Counter& event_unsigned;
    prometheus::Counter& event_late;
    // turnout_status_queries_total by outcome.
    prometheus::Counter& query_resolved;
    prometheus::Counter& query_still_pending;
    prometheus::Counter& query_expired;
    prometheus::Counter& query_cancelled;

private:
    prometheus::Counter& approved_;
    prometheus::Counter& declined_;
    prometheus::Counter& soft_failure_;
    prometheus::Counter& reversed_;
    prometheus::Counter& failed_;
    prometheus::Counter& pending_call_;
};

}  // namespace turnout
