#pragma once
// Records as the earlier stages make them, for driving a later stage: a sale routed by the
// router stage, scored by the risk stage, answered by the simulator channel sim-a.
#include <boost/json.hpp>

#include <string>
#include <vector>

#include "connector_stage.hpp"
#include "model/card_number.hpp"
#include "risk/risk_stage.hpp"
#include "router/router_stage.hpp"
#include "support/stage_config.hpp"
#include "support/stage_driver.hpp"

namespace turnout::testing {

// The first record a stage emitted to `topic`; fails the test when there is none.
inline kafka::OutRecord first_to(const std::vector<kafka::OutRecord>& out, const std::string& topic) {
    for (const auto& r : out)
        if (r.topic == topic) return r;
    FAIL("no record to " << topic);
    return {};
}

// A Luhn-valid card number: `prefix` (up to 15 digits) padded with zeros plus a check digit.
inline std::string card_number(std::string prefix) {
    prefix.resize(15, '0');
    for (char d = '0'; d <= '9'; ++d)
        if (luhn_valid(prefix + d)) return prefix + d;
    return {};
}

// What a router would write to payments.routed for these sales (payments.requests partition).
inline std::vector<kafka::OutRecord> routed(const Config& cfg, const CardVault& vault,
                                            const std::vector<std::string>& requests, int32_t partition) {
    TempDir own;
    auto c = cfg;
    c.state_dir = (own.path / "state").string();
    RouterStage router(c, vault, nullptr, "route");
    StageDriver d(router, {c.kafka.topics.lifecycle});
    d.assign({{c.kafka.topics.requests, partition}});
    std::vector<Input> in;
    for (const auto& r : requests)  // keyed by the payment_id, as a producer of requests must
        in.push_back({c.kafka.topics.requests, partition,
                      std::string(boost::json::parse(r).as_object().at("payment_id").as_string()), r, {}});
    std::vector<kafka::OutRecord> out;
    for (auto& r : d.feed(in))
        if (r.topic == c.kafka.topics.routed) out.push_back(std::move(r));
    return out;
}

// Routed records as consumed input (payments.routed partition `partition`).
inline std::vector<Input> as_input(const std::vector<kafka::OutRecord>& recs, int32_t partition) {
    std::vector<Input> in;
    for (const auto& r : recs) in.push_back({r.topic, partition, r.key, r.value, r.headers});
    return in;
}

// What the risk stage would write to payments.channel.sim-a for these sales.
inline std::vector<kafka::OutRecord> on_first_channel(const Config& cfg, const CardVault& vault,
                                                      const std::vector<std::string>& sales, int32_t request_partition) {
    TempDir own;
    auto c = cfg;
    c.state_dir = (own.path / "state").string();
    RiskStage risk(c, nullptr, "score");
    StageDriver d(risk, {c.kafka.topics.velocity});
    d.assign({{c.kafka.topics.routed, 0}});
    std::vector<kafka::OutRecord> out;
    for (auto& r : d.feed(as_input(routed(c, vault, sales, request_partition), 0)))
        if (r.topic == c.kafka.topics.channel("sim-a")) out.push_back(std::move(r));
    return out;
}

// The results channel sim-a gives these sales (payments.results records, request partition).
inline std::vector<kafka::OutRecord> results_of(const Config& cfg, const CardVault& vault,
                                                const std::vector<std::string>& sales, int32_t request_partition) {
    TempDir own;
    auto c = cfg;
    c.state_dir = (own.path / "state").string();
    ConnectorStage connector(c, *c.channel("sim-a"), "call", &vault);
    StageDriver d(connector, {c.kafka.topics.pending});
    d.assign({{c.kafka.topics.channel("sim-a"), 0}});
    std::vector<kafka::OutRecord> out;
    for (auto& r : d.feed(as_input(on_first_channel(c, vault, sales, request_partition), 0)))
        if (r.topic == c.kafka.topics.results) out.push_back(std::move(r));
    return out;
}

}  // namespace turnout::testing
