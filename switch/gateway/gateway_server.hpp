#pragma once
// The HTTP payments gateway role (docs/gateway.md): POST /v1/payments publishes a request to
// payments.requests and waits for its final result on payments.results; GET
// /v1/payments/{id} asks the state role. A thin binding of HTTP (Boost.Beast, optional TLS)
// and Kafka around the decisions of post_decision.hpp and idempotency.hpp.
#include <memory>
#include <string>

#include "config/config.hpp"
#include "gateway/api_keys.hpp"

namespace turnout::gateway {

class Gateway {
public:
    // Loads nothing itself: `keys` come from gateway.api_keys_file (ApiKeys::load). Assigns
    // the results consumer to the end of payments.results, then binds and serves. Throws
    // std::runtime_error when the address cannot be bound or Kafka refuses a client.
    Gateway(const Config& cfg, ApiKeys keys, const std::string& instance);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    int port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The OpenAPI document served at GET /v1/openapi.yaml (gateway.openapi_file); empty when
// the file cannot be read.
std::string load_openapi_document(const Config& cfg);

}  // namespace turnout::gateway
