#pragma once
// The one YAML configuration file (docs/design.md, "Configuration"). Loading validates everything and
// throws ConfigError naming file:line:column and what was expected.
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/rules.hpp"
#include "model/payment.hpp"

namespace turnout {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TopicNames {
    std::string requests, routed, results, dlq, batches, health, state, channel_prefix;
    std::string settlement_log;  // settlement changelog: batch assignments and closes
    std::string pending;         // payments a channel answered pending (compacted, key payment_id)
    std::string velocity;        // risk changelog: payments forwarded, per routed partition
    std::string lifecycle;       // router changelog: life-cycle ledger per root id (compacted); every payment_id answered
    std::string channel(const std::string& channel_id) const { return channel_prefix + channel_id; }
    // The member named by a topic catalogue key (config/topic_catalogue.hpp); null if none.
    std::string* by_key(std::string_view key);
    const std::string* by_key(std::string_view key) const { return const_cast<TopicNames*>(this)->by_key(key); }
};

struct KafkaConfig {
    std::string bootstrap_servers;
    std::map<std::string, std::string> properties;  // passed through to librdkafka
    int partitions = 6;
    int replication_factor = 1;
    // Prepended to every topic, consumer group and transactional id: lets several
    // switches (or test runs) share one cluster.
    std::string name_prefix;
    TopicNames topics;
    int commit_every_records = 2000;
    int commit_every_ms = 100;
    int commit_linger_ms = 5;  // commit this soon once the input is drained
    // Consumer group liveness: an instance silent this long loses its partitions.
    int session_timeout_ms = 10000;
    // Static membership (group.instance.id = the stage's transactional id): a restarted
    // instance takes its partitions back without a rebalance within the session timeout.
    bool static_membership = true;
};

// A channel's fee for one debit (sale or capture): fixed_minor + amount × bps / 10 000,
// the percentage rounded half-up to the minor unit. Refunds carry no fee.
struct FeeRule {
    int64_t fixed_minor = 0;
    int64_t bps = 0;  // basis points, 0 … 10 000
};

struct ChannelConfig {
    std::string id;
    std::string kind;
    int circuit_failure_threshold = 20;  // consecutive soft failures that open the circuit
    int circuit_open_seconds = 5;        // before a half-open probe
    FeeRule fees;                                    // `fees`, any currency without its own rule
    std::map<std::string, FeeRule> fees_per_currency;  // `fees.per_currency`
    YAML::Node settings;  // the whole entry; the connector factory validates its own keys
    std::string source;   // "file:line:col" of the entry, for connector config errors
};

// `settlement.cutoffs[]`: when a channel's windows end. Either fixed intervals from the epoch
// (`interval_seconds`) or one window a day ending at `daily_at` local time, where local time
// is a fixed UTC offset (`time_zone`: "UTC" or "±HH:MM"; named zones are not supported).
struct CutoffRule {
    std::string channel;
    int64_t interval_seconds = 0;  // > 0 for interval windows
    int daily_at_minute = -1;      // ≥ 0 for daily windows: minutes after local midnight
    int utc_offset_minutes = 0;    // of daily_at
};

struct SettlementConfig {
    int window_seconds = 10;  // channels without a cut-off rule: intervals of this length
    int grace_seconds = 2;
    std::string output_dir = "var/settlement";
    int log_retention_hours = 168;
    std::vector<CutoffRule> cutoffs;
};

// What every HTTP listener allows one client (docs/security.md "Listeners"): a connection
// over the cap is closed at once, a request whose headers or body take too long is dropped,
// a body over the limit is refused before it is read.
struct ListenerLimits {
    int max_connections = 1024;
    int header_timeout_ms = 10'000;  // accepted, or the previous answer written → end of the headers
    int body_timeout_ms = 10'000;    // end of the headers → end of the body
    int64_t max_body_bytes = 65536;
};

// `state:` the state role's status endpoint, and how long the router holds a capture, void
// or refund whose original has no result yet.
struct StateConfig {
    std::string http_address = "127.0.0.1";
    int http_port = 9470;  // GET /payments/{id}; 0 = an ephemeral port
    ListenerLimits http_limits{1024, 5000, 5000, 4096};  // state.max_connections, ... (GET only)
    int original_wait_seconds = 60;
    // Life-cycle ledger and state entries live this long after the payment's last event
    // (state.retention_days).
    int64_t retention_ms = int64_t{400} * 86'400'000;
};

// `gateway:` the HTTP payments gateway role (docs/gateway.md).
struct GatewayConfig {
    bool enabled = false;  // part of `turnout all`
    std::string address = "127.0.0.1";
    int port = 8480;  // 0 = an ephemeral port
    std::string api_keys_file = "config/gateway-keys.txt";
    int wait_ms = 5000;  // how long a POST waits for the final result before answering 202
    double rate_per_second = 200;  // per merchant (token bucket)
    double burst = 400;
    ListenerLimits limits;  // max_body_bytes defaults to limits.max_record_bytes, never above it
    std::string tls_cert_file;  // both set = HTTPS
    std::string tls_key_file;
    std::string state_url;  // empty = http://<state.http_address>:<state.http_port>
    std::string openapi_file = "docs/openapi.yaml";
};

// `security:` where card-data and signing keys come from (docs/security.md "Keys").
struct SecurityConfig {
    std::string key_provider = "file";  // file | pkcs11
    std::string keys_file;              // the file provider's keys (TURNOUT_KEYS_FILE wins)
    std::string pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so";
    std::string token_label = "turnout";
    std::string pin_file;  // the token user's PIN, a private file; TURNOUT_PKCS11_PIN wins
    std::string key_set_file = "var/keys/key-set.yaml";  // data keys wrapped by the token's KEK
    // AES-GCM with random 96-bit nonces: at most 2^32 seals per key (NIST SP 800-38D);
    // seals are counted per key in `seal_count_dir` and an alert fires at seal_warn_percent.
    std::string seal_count_dir = "var/keys/seals";
    int64_t seal_limit = int64_t{1} << 32;
    int64_t seal_warn_percent = 80;
};

// `metrics:` the endpoint of /metrics, /livez and /readyz (switch/metrics/metrics_server.hpp).
struct MetricsConfig {
    std::string address = "127.0.0.1";
    int port = 9464;  // 0 = no endpoint
    ListenerLimits limits{64, 5000, 5000, 4096};
    std::string tls_cert_file;  // both set = HTTPS
    std::string tls_key_file;
    std::string basic_auth_user;           // set = /metrics needs HTTP basic auth (the probes stay open)
    std::string basic_auth_password_file;  // one line, a private file
};

struct Config {
    std::string path;
    KafkaConfig kafka;
    SecurityConfig security;
    size_t max_record_bytes = 65536;
    // Partition-local state stores: `<state_dir>/<role>-<instance>/<store>/<partition>`.
    std::string state_dir = "var/state";
    std::vector<RouteRule> routes;  // router.routes (config/rules.hpp)
    RiskPolicy risk;
    std::vector<ChannelConfig> channels;
    SettlementConfig settlement;
    StateConfig state;
    GatewayConfig gateway;
    MetricsConfig metrics;

    const ChannelConfig* channel(const std::string& id) const;
};

// Throws ConfigError. The environment variable TURNOUT_BOOTSTRAP, when set, replaces
// kafka.bootstrap_servers. Relative paths inside (keys_file, output_dir) stay relative to the cwd.
// An environment variable that overrides one config value: TURNOUT__<KEY>__<KEY>...=<value>.
// Keys are matched case-insensitively; in a list of channels a key is a channel's id (its
// letters and digits, anything else as `_`) or an index. The value is read as YAML: a
// scalar as it is, `[...]` and `{...}` as a list or mapping.
struct ConfigOverride {
    std::string env;    // the variable's name, for error messages
    std::string value;
};
constexpr std::string_view kConfigEnvPrefix = "TURNOUT__";
// The TURNOUT__ variables of `environ` (other TURNOUT_ variables are not config).
std::vector<ConfigOverride> config_overrides_from_env();

// Reads the file, then applies config_overrides_from_env().
Config load_config(const std::string& path);
Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<ConfigOverride>& overrides = {});

// "22:00" → 1320 (minutes after midnight); nullopt unless HH:MM with HH < 24, MM < 60.
std::optional<int> parse_time_of_day(std::string_view s);
// "UTC" → 0, "+01:00" → 60, "-05:30" → -330 (minutes east of UTC, at most ±14:00).
std::optional<int> parse_utc_offset(std::string_view s);

}  // namespace turnout
