// The topic catalogue (schemas/topics.yaml, built in) names every topic the switch uses, and
// each stage consumes only what the catalogue lets it read and produces into what it may write.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "config/config.hpp"
#include "config/topic_catalogue.hpp"
#include "connector_stage.hpp"
#include "kafka/client.hpp"
#include "risk/risk_stage.hpp"
#include "router/router_stage.hpp"
#include "settlement/settlement_stage.hpp"
#include "state/state_stage.hpp"

using namespace turnout;

namespace {
Config shipped() { return load_config(std::string(TURNOUT_SOURCE_DIR) + "/config/turnout.yaml"); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The catalogue entry a topic name of `cfg` belongs to.
const CatalogueTopic* entry_of(const Config& cfg, const std::string& name) {
    for (const auto& spec : kafka::topic_catalogue(cfg))
        if (spec.name == name) return spec.entry;
    return nullptr;
}
}  // namespace

TEST_CASE("the built-in catalogue: every entry is a kafka.topics key, every topic name comes from it") {
    REQUIRE_NOTHROW(topic_catalogue_entries());
    TopicNames names;
    for (const auto& e : topic_catalogue_entries()) {
        INFO(e.key);
        CHECK(names.by_key(e.key) != nullptr);
        CHECK_FALSE(e.read.empty());
        CHECK_FALSE(e.write.empty());
    }
    // Every member of TopicNames gets its default from the catalogue: none is left empty.
    const auto cfg = parse_config(R"(kafka:
  bootstrap_servers: x:1
  topics: {}
security:
  keys_file: k.yaml
router:
  routes: [{name: all, plan: [sim-a]}]
risk:
  bin_blocklist: ["400009"]
channels:
  - {id: sim-a, kind: simulator}
)",
                                  "t.yaml");
    for (const auto& e : topic_catalogue_entries()) CHECK(*cfg.kafka.topics.by_key(e.key) == e.name);
    CHECK(cfg.kafka.topics.requests == "payments.requests");
    CHECK(cfg.kafka.topics.lifecycle == "payments.lifecycle");
    CHECK_THROWS_AS(catalogue_topic("dedupe"), std::out_of_range);
    // What the stores rely on: their changelogs compacted, or retained for a window.
    std::vector<std::string> compacted;
    for (const auto& e : topic_catalogue_entries())
        if (e.compacted()) compacted.push_back(e.key);
    std::sort(compacted.begin(), compacted.end());
    CHECK(compacted == std::vector<std::string>{"health", "lifecycle", "pending", "state"});
    CHECK(catalogue_topic("settlement_log").retention == "settlement.log_retention_hours");
    CHECK(catalogue_topic("velocity").retention == "risk.velocity_retention_hours");
}

TEST_CASE("turnout topics: the catalogue's configs, one topic per channel") {
    const auto cfg = shipped();
    const auto topics = kafka::topic_catalogue(cfg);
    CHECK(topics.size() == topic_catalogue_entries().size() - 1 + cfg.channels.size());
    for (const auto& spec : topics) {
        INFO(spec.name);
        REQUIRE(spec.entry != nullptr);
        const bool compact = std::count(spec.config.begin(), spec.config.end(),
                                        std::pair<std::string, std::string>{"cleanup.policy", "compact"}) == 1;
        CHECK(compact == spec.entry->compacted());
    }
    const auto* log = entry_of(cfg, cfg.kafka.topics.settlement_log);
    REQUIRE(log != nullptr);
    CHECK(log->retention == "settlement.log_retention_hours");
    for (const auto& spec : topics)
        if (spec.name == cfg.kafka.topics.settlement_log)
            CHECK(spec.config == std::vector<std::pair<std::string, std::string>>{
                                     {"retention.ms", std::to_string(int64_t{cfg.settlement.log_retention_hours} * 3'600'000)}});
}

TEST_CASE("each stage consumes only topics the catalogue lets it read") {
    const auto cfg = shipped();
    struct Case {
        const char* principal;
        kafka::StageOptions opts;
    };
    const Case cases[] = {
        {"router", router_options(cfg, "0")},
        {"risk", risk_options(cfg, "0")},
        {"settlement", settlement_options(cfg, "0")},
        {"state", state_options(cfg, "0")},
        {"connector", connector_options(cfg, cfg.channels.front().id, "0")},
    };
    for (const auto& c : cases) {
        INFO(c.principal);
        REQUIRE_FALSE(c.opts.topics.empty());
        for (const auto& t : c.opts.topics) {
            INFO(t);
            const auto* e = entry_of(cfg, t);
            REQUIRE(e != nullptr);
            CHECK(e->read_by(c.principal));
        }
    }
}

TEST_CASE("each stage's producer knows the topics it may write, and only those") {
    const auto cfg = shipped();
    const auto& t = cfg.kafka.topics;
    const auto router = kafka::topics_written_by(cfg, "router");
    CHECK(router == std::vector<std::string>{t.routed, t.results, t.dlq, t.lifecycle});
    const auto risk = kafka::topics_written_by(cfg, "risk");
    CHECK(contains(risk, t.velocity));
    CHECK(contains(risk, t.channel(cfg.channels.back().id)));
    CHECK_FALSE(contains(risk, t.routed));
    const auto connector = kafka::topics_written_by(cfg, "connector");
    CHECK(contains(connector, t.health));
    CHECK(contains(connector, t.pending));
    CHECK_FALSE(contains(connector, t.batches));
    CHECK(kafka::topics_written_by(cfg, "settlement") == std::vector<std::string>{t.dlq, t.batches, t.settlement_log});
    CHECK(kafka::topics_written_by(cfg, "state") == std::vector<std::string>{t.dlq, t.state});
}
