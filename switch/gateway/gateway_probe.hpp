#pragma once
// The gateway's series (docs/metrics.md, "Gateway"), declared in gateway_probe.cpp and
// resolved when the gateway starts (by method and code on their first use).
#include <string_view>

#include "metrics/metrics.hpp"

namespace turnout {

class GatewayProbe {
public:
    GatewayProbe();
    // turnout_gateway_requests_total by method (a bounded label, method_label) and status code.
    prometheus::Counter& request(std::string_view method, std::string_view code) { return requests_({method, code}); }
    prometheus::Histogram& latency;  // turnout_gateway_request_seconds
    prometheus::Gauge& waiting;      // turnout_gateway_waiting

private:
    SeriesCache<prometheus::Counter> requests_;
};

}  // namespace turnout
