#pragma once
// A small HTTP/1.1 server (Boost.Beast) for the state role's status inquiry:
// `GET /payments/{id}`. It runs its own io_context on one thread, with the limits every
// listener holds; each request is answered
// by the handler, which must be thread-safe.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "config/config.hpp"

namespace turnout {

struct StatusReply {
    int status = 200;
    std::string body;  // JSON
};

class StatusServer {
public:
    using Handler = std::function<StatusReply(std::string_view payment_id)>;

    // Binds address:port (port 0 = ephemeral) and starts serving under `limits`
    // (net/http_listener.hpp). Throws std::runtime_error when the address cannot be bound.
    StatusServer(const std::string& address, int port, Handler handler,
                 const ListenerLimits& limits = StateConfig{}.http_limits);
    ~StatusServer();
    StatusServer(const StatusServer&) = delete;
    StatusServer& operator=(const StatusServer&) = delete;

    int port() const { return port_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int port_ = 0;
};

// The port the last state role of this process bound (0 when none): lets a test or a log
// line find an ephemeral port.
int bound_status_port();

// GET http://host:port/payments/{id}: the HTTP status and body. Throws std::runtime_error
// when the server cannot be reached.
StatusReply fetch_payment_status(const std::string& host, int port, std::string_view payment_id, int timeout_ms = 5000);

}  // namespace turnout
