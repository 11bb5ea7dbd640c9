#include "gateway/gateway_probe.hpp"

namespace turnout {
namespace {
CounterFamily& requests() {
    static auto& f =
        declare_counter("turnout_gateway_requests_total", "HTTP requests answered by the gateway, by method and status code");
    return f;
}
HistogramFamily& request_seconds() {
    static auto& f = declare_histogram("turnout_gateway_request_seconds", "From a gateway request read to its answer written");
    return f;
}
GaugeFamily& waiting() {
    static auto& f = declare_gauge("turnout_gateway_waiting", "POST /v1/payments requests waiting for their final result");
    return f;
}
}  // namespace

GatewayProbe::GatewayProbe()
    : latency(latency_histogram(request_seconds(), {})),
      waiting(turnout::waiting().Add({})),
      requests_(requests(), {}, {"method", "code"}) {}

}  // namespace turnout
