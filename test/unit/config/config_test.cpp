// Configuration errors name file:line:column and what was expected.
#include <doctest/doctest.h>

#include <string>

#include "config/config.hpp"
#include "connector.hpp"

using namespace turnout;

namespace {
const std::string kBase = R"(kafka:
  bootstrap_servers: 127.0.0.1:9092
  topics: {}
security:
  keys_file: k.yaml
router:
  routes:
    - name: all
      plan: [sim-a]
risk:
  bin_blocklist: ["400009"]
channels:
  - id: sim-a
    kind: simulator
    latency_ms: 1
)";

std::string error_of(const std::string& yaml) {
    try {
        auto cfg = parse_config(yaml, "t.yaml");
        validate_channels(cfg);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("the shipped config loads and every channel kind is known") {
    const auto cfg = load_config(std::string(TURNOUT_SOURCE_DIR) + "/config/turnout.yaml");
    CHECK(cfg.channels.size() >= 2);
    CHECK_NOTHROW(validate_channels(cfg));
    CHECK(cfg.kafka.topics.channel("acq-eu") == "payments.channel.acq-eu");
}

TEST_CASE("a minimal config gets defaults") {
    const auto cfg = parse_config(kBase, "t.yaml");
    CHECK(cfg.kafka.topics.requests == "payments.requests");
    CHECK(cfg.kafka.commit_every_ms == 100);
    CHECK(cfg.settlement.window_seconds == 10);
}

TEST_CASE("name_prefix applies to every topic") {
    auto yaml = kBase;
    yaml.replace(yaml.find("  topics: {}"), 12, "  name_prefix: t1.\n  topics: {}");
    const auto cfg = parse_config(yaml, "t.yaml");
    CHECK(cfg.kafka.topics.results == "t1.payments.results");
    CHECK(cfg.kafka.topics.channel("x") == "t1.payments.channel.x");
}

TEST_CASE("config errors: location and expectation") {
    struct Case {
        const char* name;
        std::string from, to;
        const char* expected;
    };
    const Case cases[] = {
        {"unknown top-level key", "risk:", "rsik: {}\nrisk:", "t.yaml:10:1: unknown key `.rsik`"},
        {"plan names unknown channel", "plan: [sim-a]", "plan: [sim-b]", "t.yaml:9:14: route plan names unknown channel `sim-b`"},
        {"bad partitions", "  topics: {}", "  partitions: many\n  topics: {}", "t.yaml:3:15: expected an integer for `partitions`"},
        {"bad BIN", "[\"400009\"]", "[\"4000\"]", "t.yaml:11:19: expected a BIN as 6 digits"},
        {"unknown connector kind", "kind: simulator", "kind: telex", "channel `sim-a` has unknown kind `telex`"},
        {"connector rejects its own bad key", "latency_ms: 1", "latency: 1", "unknown key `latency` for simulator channel"},
        {"missing keys file", "  keys_file: k.yaml\n", "  {}\n", "missing required key `keys_file`"},
        {"invalid YAML", "topics: {}", "topics: {", "t.yaml:"},
        {"duplicate channel", "    latency_ms: 1\n", "    latency_ms: 1\n  - id: sim-a\n    kind: simulator\n", "duplicate channel id `sim-a`"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto yaml = kBase;
        auto pos = yaml.find(c.from);
        REQUIRE(pos != std::string::npos);
        yaml.replace(pos, c.from.size(), c.to);
        const auto err = error_of(yaml);
        CHECK_MESSAGE(err.find(c.expected) != std::string::npos, err);
    }
    CHECK(error_of(kBase).empty());
}

TEST_CASE("settlement cut-offs and channel fees") {
    const auto ok = kBase + R"(    fees: {fixed_minor: 10, bps: 150, per_currency: {JPY: {bps: 100}}}
settlement:
  window_seconds: 5
  cutoffs:
    - channel: sim-a
      daily_at: "22:00"
      time_zone: "+01:00"
)";
    const auto cfg = parse_config(ok, "t.yaml");
    validate_channels(cfg);
    REQUIRE(cfg.settlement.cutoffs.size() == 1);
    CHECK(cfg.settlement.cutoffs[0].daily_at_minute == 22 * 60);
    CHECK(cfg.settlement.cutoffs[0].utc_offset_minutes == 60);
    CHECK(cfg.channels[0].fees.fixed_minor == 10);
    CHECK(cfg.channels[0].fees.bps == 150);
    CHECK(cfg.channels[0].fees_per_currency.at("JPY").bps == 100);
    CHECK(cfg.channels[0].fees_per_currency.at("JPY").fixed_minor == 0);

    struct Case {
        std::string from, to;
        const char* expected;
    };
    const Case cases[] = {
        {"daily_at: \"22:00\"", "daily_at: \"24:00\"", "expected `daily_at` as HH:MM"},
        {"time_zone: \"+01:00\"", "time_zone: Europe/Berlin", "named zones such as Europe/Berlin are not supported"},
        {"      daily_at: \"22:00\"\n      time_zone: \"+01:00\"\n", "      interval_seconds: 0\n", "between 1 and 86400"},
        {"      time_zone: \"+01:00\"\n", "      interval_seconds: 10\n", "exactly one of `interval_seconds` and `daily_at`"},
        {"channel: sim-a\n      daily", "channel: sim-z\n      daily", "cut-off names unknown channel `sim-z`"},
        {"bps: 150", "bps: 10001", "`bps` must be between 0 and 10000"},
        {"fixed_minor: 10", "fixed: 10", "unknown key `channels[].fees.fixed`"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.expected);
        auto yaml = ok;
        auto pos = yaml.find(c.from);
        REQUIRE(pos != std::string::npos);
        yaml.replace(pos, c.from.size(), c.to);
        const auto err = error_of(yaml);
        CHECK_MESSAGE(err.find(c.expected) != std::string::npos, err);
    }
    CHECK(parse_utc_offset("-05:30") == -330);
    CHECK(parse_utc_offset("UTC") == 0);
    CHECK_FALSE(parse_utc_offset("+15:00"));
    CHECK_FALSE(parse_time_of_day("7:00"));
}

TEST_CASE("state: status endpoint and the router's wait for an original") {
    const auto defaults = parse_config(kBase, "t.yaml");
    CHECK(defaults.state.http_port == 9470);
    CHECK(defaults.state.original_wait_seconds == 60);
    CHECK(defaults.kafka.topics.lifecycle == "payments.lifecycle");
    const auto cfg = parse_config(kBase + "state:\n  http_port: 0\n  original_wait_seconds: 5\n", "t.yaml");
    CHECK(cfg.state.http_port == 0);
    CHECK(cfg.state.original_wait_seconds == 5);
    CHECK(error_of(kBase + "state:\n  http_port: 70000\n").find("t.yaml:") != std::string::npos);
    CHECK(error_of(kBase + "state:\n  wait: 5\n").find("unknown key") != std::string::npos);
}

TEST_CASE("state stores: directory, retention by time, static membership and session timeout") {
    const auto d = parse_config(kBase, "t.yaml");
    CHECK(d.state_dir == "var/state");
    CHECK(d.state.retention_ms == int64_t{400} * 86'400'000);
    CHECK(d.kafka.static_membership);
    CHECK(d.kafka.session_timeout_ms == 10000);
    std::string yaml = kBase + "state_dir: /srv/turnout\nstate:\n  retention_days: 30\n";
    yaml.replace(yaml.find("  topics: {}"), 12, "  topics: {}\n  static_membership: false\n  session_timeout_ms: 45000");
    const auto c = parse_config(yaml, "t.yaml");
    CHECK(c.state_dir == "/srv/turnout");
    CHECK(c.state.retention_ms == int64_t{30} * 86'400'000);
    CHECK_FALSE(c.kafka.static_membership);
    CHECK(c.kafka.session_timeout_ms == 45000);
    struct Bad {
        std::string from, to, expected;
    };
    for (const auto& b : std::vector<Bad>{
             {"router:\n", "router:\n  dedupe_window_hours: 2\n", "no longer used"},
             {"  topics: {}", "  topics: {dedupe: payments.dedupe}", "no longer used"},
             {"router:\n", "router:\n  dedupe_capacity: 10\n", "unknown key"},
             {"  topics: {}", "  topics: {}\n  static_membership: maybe", "true or false"},
             {"  topics: {}", "  topics: {}\n  session_timeout_ms: 10", "between 1000 and"},
         }) {
        CAPTURE(b.to);
        std::string y = kBase + "state:\n  retention_days: 0\n";
        CHECK(error_of(y).find("between 1 and") != std::string::npos);
        y = kBase;
        y.replace(y.find(b.from), b.from.size(), b.to);
        CHECK_MESSAGE(error_of(y).find(b.expected) != std::string::npos, error_of(y));
    }
}

TEST_CASE("gateway: defaults, the shipped values and errors") {
    const auto d = parse_config(kBase, "t.yaml").gateway;
    CHECK_FALSE(d.enabled);
    CHECK(d.address == "127.0.0.1");
    CHECK(d.port == 8480);
    CHECK(d.api_keys_file == "config/gateway-keys.txt");
    CHECK(d.wait_ms == 5000);
    CHECK(d.rate_per_second == 200);
    CHECK(d.burst == 400);
    CHECK(d.limits.max_connections == 1024);
    CHECK(d.tls_cert_file.empty());
    CHECK(d.tls_key_file.empty());
    CHECK(d.state_url.empty());
    CHECK(d.openapi_file == "docs/openapi.yaml");

    const auto shipped = load_config(std::string(TURNOUT_SOURCE_DIR) + "/config/turnout.yaml").gateway;
    CHECK(shipped.port == 8480);
    CHECK(shipped.wait_ms == 5000);
    CHECK(shipped.tls_cert_file.empty());

    const auto c = parse_config(kBase + "gateway:\n  enabled: true\n  port: 0\n  wait_ms: 250\n  rate_per_second: 5\n"
                                        "  burst: 10\n  max_connections: 8\n  state_url: http://10.0.0.1:9470\n"
                                        "  tls: { cert_file: c.pem, key_file: k.pem }\n",
                                "t.yaml")
                       .gateway;
    CHECK(c.enabled);
    CHECK(c.port == 0);
    CHECK(c.wait_ms == 250);
    CHECK(c.rate_per_second == 5);
    CHECK(c.burst == 10);
    CHECK(c.limits.max_connections == 8);
    CHECK(c.state_url == "http://10.0.0.1:9470");
    CHECK(c.tls_cert_file == "c.pem");
    CHECK(c.tls_key_file == "k.pem");

    CHECK(error_of(kBase + "gateway:\n  tls: { cert_file: c.pem }\n").find("both") != std::string::npos);
    CHECK(error_of(kBase + "gateway:\n  state_url: 10.0.0.1:9470\n").find("http://") != std::string::npos);
    CHECK(error_of(kBase + "gateway:\n  port: 70000\n").find("t.yaml:") != std::string::npos);
    CHECK(error_of(kBase + "gateway:\n  wait: 5\n").find("unknown key") != std::string::npos);
}
