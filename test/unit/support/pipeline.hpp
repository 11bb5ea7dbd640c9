#pragma once
// Records as the earlier stages make them, for driving a later stage: a sale routed by the
// router stage, scored by the risk stage, answered by the simulator channel sim-a.
#include <boost/json.hpp>

#include <memory>
#include <set>
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

// Routed records as consumed input (payments.routed partition `partition`).
inline std::vector<Input> as_input(const std::vector<kafka::OutRecord>& recs, int32_t partition) {
    std::vector<Input> in;
    for (const auto& r : recs) in.push_back({r.topic, partition, r.key, r.value, r.headers});
    return in;
}

// One batch through a fresh `Stage` (stores in a directory of its own, partition `p` of
// `input`): what it emitted to `topic`. `make(cfg)` builds the stage for that config.
template <class Stage, class Make>
std::vector<kafka::OutRecord> through(const Config& cfg, Make make, std::set<std::string> changelogs,
                                      const std::string& input, int32_t p, const std::vector<Input>& batch,
                                      const std::string& topic) {
    TempDir own;
    auto c = cfg;
    c.state_dir = (own.path / "state").string();
    std::unique_ptr<Stage> stage = make(c);
    StageDriver d(*stage, std::move(changelogs));
    d.assign({{input, p}});
    std::vector<kafka::OutRecord> out;
    for (auto& r : d.feed(batch))
        if (r.topic == topic) out.push_back(std::move(r));
    return out;
}

// What a router would write to payments.routed for these sales (payments.requests partition).
inline std::vector<kafka::OutRecord> routed(const Config& cfg, const CardVault& vault,
                                            const std::vector<std::string>& requests, int32_t partition) {
    const auto& t = cfg.kafka.topics;
    std::vector<Input> in;
    for (const auto& r : requests)  // keyed by the payment_id, as a producer of requests must
        in.push_back({t.requests, partition,
                      std::string(boost::json::parse(r).as_object().at("payment_id").as_string()), r, {}});
    return through<RouterStage>(
        cfg, [&](const Config& c) { return std::make_unique<RouterStage>(c, vault, nullptr, "route"); },
        {t.lifecycle}, t.requests, partition, in, t.routed);
}

// What the risk stage would write to payments.channel.sim-a for these sales.
inline std::vector<kafka::OutRecord> on_first_channel(const Config& cfg, const CardVault& vault,
                                                      const std::vector<std::string>& sales, int32_t request_partition) {
    const auto& t = cfg.kafka.topics;
    return through<RiskStage>(
        cfg, [](const Config& c) { return std::make_unique<RiskStage>(c, nullptr, "score"); }, {t.velocity}, t.routed,
        0, as_input(routed(cfg, vault, sales, request_partition), 0), t.channel("sim-a"));
}

// The results channel sim-a gives these sales (payments.results records, request partition).
inline std::vector<kafka::OutRecord> results_of(const Config& cfg, const CardVault& vault,
                                                const std::vector<std::string>& sales, int32_t request_partition) {
    const auto& t = cfg.kafka.topics;
    return through<ConnectorStage>(
        cfg, [&](const Config& c) { return std::make_unique<ConnectorStage>(c, *c.channel("sim-a"), "call", &vault); },
        {t.pending}, t.channel("sim-a"), 0, as_input(on_first_channel(cfg, vault, sales, request_partition), 0),
        t.results);
}

}  // namespace turnout::testing
