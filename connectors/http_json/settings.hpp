#pragma once
// The settings of an http_json channel entry (validated once, shared by the connector and
// turnout-sim psp).
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "connector.hpp"

namespace turnout::psp {

struct HttpJsonSettings {
    std::string channel_id;
    std::string host;              // of `endpoint: https://host:port[/base]`
    std::string port = "443";
    std::string base_path;         // "" or "/base" (no trailing slash)
    std::string ca_file;           // tls.ca_file: the CA that signs the PSP's certificate
    std::string server_name;       // tls.server_name: the name (or IP) the certificate must carry; default host
    std::string keys_file;         // signing keys (see config/dev-psp-keys.yaml)
    std::string request_key;       // raw bytes: Turnout signs requests with it
    std::string webhook_key;       // raw bytes: the PSP signs webhooks with it
    int timeout_ms = 2000;         // per request, after it was sent
    int connect_timeout_ms = 1000; // TCP connect + TLS handshake
    int max_connections = 64;      // keep-alive pool = payments in flight
    int busy_retries = 2;          // resends of a payment answered 409 (key in use) or 429, same channel
    int busy_retry_delay_ms = 200; // before resend n: n × this, or the answer's Retry-After
    int busy_retry_max_delay_ms = 2000;  // cap of one wait (Retry-After included)
    std::string webhook_listen;    // host:port of the webhook listener; empty = none
    std::string callback_url;      // sent to the PSP; default http(s)://<listen>/webhooks/<channel>
    ListenerLimits webhook_limits{256, 10'000, 10'000, 64 * 1024};  // webhook.max_connections, ...
    std::string webhook_tls_cert_file;  // webhook.tls: both set = HTTPS
    std::string webhook_tls_key_file;
    int64_t replay_window_ms = 300'000;
    PendingPolicy pending;
};

// Throws ConfigError (file:line:column) on a bad or unknown key. The keys are not read yet.
HttpJsonSettings parse_http_json_settings(const ChannelConfig& ch);
// Reads request_key and webhook_key from keys_file (relative paths from the working
// directory, like security.keys_file), when the connector or simulator starts. Throws ConfigError.
void load_http_json_keys(HttpJsonSettings& s);

}  // namespace turnout::psp
