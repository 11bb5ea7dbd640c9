// Operating the switch: health verdicts (/livez, /readyz), broker state from librdkafka's
// statistics, config overrides from the environment, key file permissions.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/health.hpp"
#include "config/secret_file.hpp"

using namespace turnout;

namespace {
HealthCell::Snapshot ready_cell(const std::string& name, int64_t now) {
    HealthCell::Snapshot s;
    s.name = name;
    s.last_turn_ms = now - 100;
    s.assigned = true;
    s.broker = BrokerState::up;
    s.broker_seen_ms = now - 1000;
    return s;
}
}  // namespace

TEST_CASE("readiness and liveness: a table of stage states") {
    const int64_t now = 1'000'000;
    const HealthLimits lim{30000, 20000};
    struct Case {
        const char* what;
        void (*change)(HealthCell::Snapshot&);
        bool live, ready;
        const char* reason;  // substring of the readiness reason
    };
    const std::vector<Case> cases{
        {"everything fine", [](HealthCell::Snapshot&) {}, true, true, ""},
        {"restoring stores", [](HealthCell::Snapshot& s) { s.restoring = true; }, true, false, "restoring state stores"},
        {"no assignment yet", [](HealthCell::Snapshot& s) { s.assigned = false; }, true, false, "partition assignment"},
        {"fenced", [](HealthCell::Snapshot& s) { s.failed = true; }, true, false, "fenced"},
        {"broker down", [](HealthCell::Snapshot& s) { s.broker = BrokerState::down; }, true, false, "no Kafka broker reachable"},
        {"broker state old", [](HealthCell::Snapshot& s) { s.broker_seen_ms = now - 25000; }, true, false, "unknown"},
        {"broker never reported", [](HealthCell::Snapshot& s) { s.broker = BrokerState::unknown; s.broker_seen_ms = 0; }, true, false, "unknown"},
        {"no broker reports (gateway without stats)", [](HealthCell::Snapshot& s) { s.reports_broker = false; s.broker = BrokerState::unknown; }, true, true, ""},
        {"loop stuck", [](HealthCell::Snapshot& s) { s.last_turn_ms = now - 31000; }, false, false, "has not turned for 31 s"},
        {"loop slow but within the limit", [](HealthCell::Snapshot& s) { s.last_turn_ms = now - 29000; }, true, true, ""},
        {"loop not started yet", [](HealthCell::Snapshot& s) { s.last_turn_ms = 0; }, true, true, ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto bad = ready_cell("router", now);
        c.change(bad);
        const std::vector<HealthCell::Snapshot> cells{ready_cell("risk", now), bad};
        const auto live = liveness(cells, now, lim);
        const auto ready = readiness(cells, now, lim);
        CHECK(live.ok == c.live);
        CHECK(ready.ok == c.ready);
        if (!c.ready) {
            CHECK(ready.reason.find("router: ") == 0);
            CHECK(ready.reason.find(c.reason) != std::string::npos);
            CHECK(ready.json().find("{\"ready\":false,\"reason\":\"router: ") == 0);
        } else {
            CHECK(ready.json() == "{\"ready\":true}\n");
        }
    }
    CHECK(readiness({}, now, lim).ok);  // a process with no stage (tools)
}

TEST_CASE("a process is not ready before its roles run, nor while some are still starting") {
    const int64_t now = 1'000'000;
    const std::vector<HealthCell::Snapshot> one{ready_cell("router", now)};
    struct Case {
        size_t cells, expected;
        bool ready;
        const char* reason;
    };
    const std::vector<Case> cases{{0, 0, false, "starting: the roles are not running yet"},
                                  {0, 2, false, "starting: 0 of 2 stages up"},
                                  {1, 2, false, "starting: 1 of 2 stages up"},
                                  {1, 1, true, ""}};
    for (const auto& c : cases) {
        CAPTURE(c.expected);
        CAPTURE(c.cells);
        const std::vector<HealthCell::Snapshot> cells(one.begin(), one.begin() + static_cast<long>(c.cells));
        const auto v = process_readiness(cells, c.expected, now);
        CHECK(v.ok == c.ready);
        CHECK(v.reason == c.reason);
    }
}

TEST_CASE("broker state from librdkafka statistics") {
    struct Case {
        const char* json;
        BrokerState want;
    };
    const std::vector<Case> cases{
        {R"({"brokers":{"127.0.0.1:9092/1":{"nodeid":1,"state":"UP"}}})", BrokerState::up},
        {R"({"brokers":{"127.0.0.1:9092/bootstrap":{"nodeid":-1,"state":"DOWN"},"127.0.0.1:9092/1":{"nodeid":1,"state":"UP"}}})", BrokerState::up},
        {R"({"brokers":{"127.0.0.1:9092/1":{"nodeid":1,"state":"CONNECT"}}})", BrokerState::down},
        {R"({"brokers":{"127.0.0.1:9092/1":{"nodeid":1,"state":"TRY_CONNECT"},"b/2":{"state":"DOWN"}}})", BrokerState::down},
        {R"({"brokers":{}})", BrokerState::unknown},
        {R"({"topics":{}})", BrokerState::unknown},
        {R"({"brokers":[1,2]})", BrokerState::unknown},
        {R"({"brokers":{"x":{"state":7},"y":"UP"}})", BrokerState::down},
    };
    for (const auto& c : cases) {
        CAPTURE(c.json);
        const auto doc = boost::json::parse(c.json);
        CHECK(kafka::broker_state_from_stats(doc.get_object()) == c.want);
    }
}

namespace {
const std::string kDoc = R"(kafka:
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
  - id: psp-global
    kind: simulator
    latency_ms: 2
metrics:
  port: 9464
)";

std::string override_error(const std::vector<ConfigOverride>& o) {
    try {
        (void)parse_config(kDoc, "t.yaml", o);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("config values overridden by TURNOUT__ environment variables") {
    SUBCASE("values that apply") {
        const auto c = parse_config(kDoc, "t.yaml",
                                    {{"TURNOUT__KAFKA__BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093"},
                                     {"TURNOUT__METRICS__PORT", "9500"},
                                     {"TURNOUT__STATE_DIR", "/var/lib/turnout/state"},
                                     {"TURNOUT__Security__Keys_File", "/etc/turnout/keys.yaml"},
                                     {"TURNOUT__CHANNELS__PSP_GLOBAL__LATENCY_MS", "7"},
                                     {"TURNOUT__CHANNELS__0__LATENCY_MS", "5"},
                                     {"TURNOUT__ROUTER__ROUTES", "[{name: all, plan: [psp-global]}]"}});
        CHECK(c.kafka.bootstrap_servers == "broker-1:9093,broker-2:9093");
        CHECK(c.metrics.port == 9500);
        CHECK(c.state_dir == "/var/lib/turnout/state");
        CHECK(c.security.keys_file == "/etc/turnout/keys.yaml");
        CHECK(c.channel("psp-global")->settings["latency_ms"].as<int>() == 7);
        CHECK(c.channel("sim-a")->settings["latency_ms"].as<int>() == 5);
        REQUIRE(c.routes.size() == 1);
    }
    SUBCASE("mistakes are named by their variable") {
        struct Case {
            std::vector<ConfigOverride> o;
            const char* want;
        };
        const std::vector<Case> cases{
            {{{"TURNOUT__METRICS__PORT", "ninety"}}, "expected an integer for `port` (with environment overrides TURNOUT__METRICS__PORT)"},
            {{{"TURNOUT__METRICS__PORTS", "1"}}, "unknown key `metrics.ports`"},
            {{{"TURNOUT__CHANNELS__NOPE__LATENCY_MS", "1"}}, "TURNOUT__CHANNELS__NOPE__LATENCY_MS: `channels` has no element `NOPE`"},
            {{{"TURNOUT__CHANNELS__9__LATENCY_MS", "1"}}, "has no element `9`"},
            {{{"TURNOUT__CHANNELS__0", "x"}}, "replaced key by key"},
            {{{"TURNOUT__KAFKA__BOOTSTRAP_SERVERS__X", "1"}}, "`kafka.bootstrap_servers` is not a mapping"},
            {{{"TURNOUT__KAFKA____X", "1"}}, "empty key"},
            {{{"TURNOUT__ROUTER__ROUTES", "[unclosed"}}, "TURNOUT__ROUTER__ROUTES: value is not valid YAML"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.o.front().env);
            CHECK(override_error(c.o).find(c.want) != std::string::npos);
        }
    }
    SUBCASE("only TURNOUT__ variables are config") {
        ::setenv("TURNOUT__METRICS__PORT", "9501", 1);
        ::setenv("TURNOUT_KAFKA_PORT", "9999", 1);  // a script's variable, not config
        const auto o = config_overrides_from_env();
        ::unsetenv("TURNOUT__METRICS__PORT");
        ::unsetenv("TURNOUT_KAFKA_PORT");
        REQUIRE(o.size() == 1);
        CHECK(o[0].env == "TURNOUT__METRICS__PORT");
        CHECK(o[0].value == "9501");
    }
}

TEST_CASE("a key file that group or others may read is refused with the command that fixes it") {
    const auto dir = std::filesystem::temp_directory_path() / ("turnout-secret-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto file = (dir / "keys.yaml").string();
    std::ofstream(file) << "x: 1\n";
    struct Case {
        mode_t mode;
        const char* want;  // "" = accepted
    };
    const std::vector<Case> cases{{0600, ""}, {0400, ""}, {0640, "(mode 0640)"}, {0604, "(mode 0604)"}, {0644, "chmod 600 "}, {0620, "(mode 0620)"}};
    for (const auto& c : cases) {
        CAPTURE(c.mode);
        ::chmod(file.c_str(), c.mode);
        std::string err;
        try {
            check_secret_file(file, "security.keys_file");
        } catch (const ConfigError& e) {
            err = e.what();
        }
        if (*c.want == 0) {
            CHECK(err.empty());
        } else {
            CHECK(err.find("security.keys_file: " + file) == 0);
            CHECK(err.find(c.want) != std::string::npos);
        }
    }
    std::string missing;
    try {
        check_secret_file((dir / "none.yaml").string(), "channels.psp-global.keys_file");
    } catch (const ConfigError& e) {
        missing = e.what();
    }
    CHECK(missing.find("channels.psp-global.keys_file: ") == 0);
    CHECK(missing.find("No such file") != std::string::npos);
    std::filesystem::remove_all(dir);
}
