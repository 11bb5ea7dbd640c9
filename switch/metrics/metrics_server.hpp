#pragma once
// The process's HTTP endpoint for Prometheus and the probes: GET /metrics (the registry in
// the text format; HTTP basic auth when metrics.basic_auth is set), /livez and /readyz
// (metrics/health.hpp; never behind auth, the kubelet probes them). Boost.Beast on one
// thread of its own, with the limits every listener holds (net/http_listener.hpp) and
// optional TLS (metrics.tls).
#include <memory>

#include <prometheus/registry.h>

#include "config/config.hpp"

namespace turnout {

class MetricsServer {
public:
    // Binds cfg.address:cfg.port (0 = an ephemeral port) and serves. Throws
    // std::runtime_error when the port is taken or a TLS or password file cannot be read.
    MetricsServer(const MetricsConfig& cfg, std::shared_ptr<prometheus::Registry> registry);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    int port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// "Basic " + base64(user:password): the Authorization value /metrics expects.
std::string basic_authorization(const std::string& user, const std::string& password);

}  // namespace turnout
