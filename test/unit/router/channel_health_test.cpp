// Channel health: the report a connector publishes and the router's reading of it.
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "health_publisher.hpp"
#include "../../metric_checks.hpp"
#include "model/time.hpp"
#include "router/channel_health.hpp"

using namespace turnout;

namespace {
struct Collect : kafka::Emitter {
    std::vector<kafka::OutRecord> records;
    void emit(const kafka::OutRecord& r) override { records.push_back(r); }
};

Config config_with_channel() {
    Config cfg;
    cfg.kafka.topics.health = "channels.health";
    ChannelConfig ch;
    ch.id = "acq-eu";
    ch.kind = "simulator";
    cfg.channels.push_back(ch);
    return cfg;
}
}  // namespace

TEST_CASE("channel health: a report survives encode and decode; bad reports are refused") {
    ChannelHealth h;
    h.channel = "acq-eu";
    h.circuit = ChannelHealth::Circuit::half_open;
    h.success_permille = 973;
    h.latency_ms = 12;
    h.calls = 40;
    h.updated_at_ms = 1'764'140'000'123;
    auto back = decode_channel_health(encode_channel_health(h));
    REQUIRE(back);
    CHECK(back->channel == "acq-eu");
    CHECK(back->circuit == ChannelHealth::Circuit::half_open);
    CHECK(back->success_permille == 973);
    CHECK(back->latency_ms == 12);
    CHECK(back->calls == 40);
    CHECK(back->updated_at_ms == h.updated_at_ms);
    CHECK_FALSE(decode_channel_health("not json"));
    CHECK_FALSE(decode_channel_health(R"({"channel":"a","circuit":"broken","updated_at":"2026-11-26T06:49:31.220Z"})"));
    CHECK_FALSE(decode_channel_health(R"({"channel":"a","circuit":"open"})"));  // no time
}

TEST_CASE("channel health publisher: on a circuit change at once, at most once a second while called, heartbeat") {
    const auto cfg = config_with_channel();
    ChannelHealthPublisher pub(cfg, cfg.channels[0]);
    Collect out;
    const int64_t t0 = 1'000'000;
    pub.maybe_publish(0, t0, out);  // the first report
    REQUIRE(out.records.size() == 1);
    CHECK(out.records[0].topic == "channels.health");
    CHECK(out.records[0].key == "acq-eu");

    pub.record_call(9, 1, 0.004);
    pub.record_call(10, 0, 0.006);
    pub.maybe_publish(0, t0 + 500, out);  // too soon
    CHECK(out.records.size() == 1);
    pub.maybe_publish(0, t0 + 1000, out);
    REQUIRE(out.records.size() == 2);
    auto h = decode_channel_health(out.records[1].value);
    REQUIRE(h);
    CHECK(h->success_permille == 950);  // 19 answered of 20
    CHECK(h->latency_ms == 5);          // mean of 4 and 6 ms
    CHECK(h->calls == 2);

    pub.maybe_publish(2, t0 + 1100, out);  // the circuit opened: at once
    REQUIRE(out.records.size() == 3);
    h = decode_channel_health(out.records[2].value);
    CHECK(h->circuit == ChannelHealth::Circuit::open);
    CHECK(h->success_permille == 950);  // no calls since: the last figures stand

    pub.maybe_publish(2, t0 + 5000, out);  // no calls, no change: only the heartbeat
    CHECK(out.records.size() == 3);
    pub.maybe_publish(2, t0 + 1100 + ChannelHealthPublisher::kHeartbeatMs, out);
    CHECK(out.records.size() == 4);
}

TEST_CASE("channel health table: the latest report per channel") {
    KafkaConfig k;
    ChannelHealthTable table(k);
    CHECK(table.snapshot()->empty());
    ChannelHealth a;
    a.channel = "acq-eu";
    a.circuit = ChannelHealth::Circuit::open;
    a.updated_at_ms = 10;
    table.put(a);
    const auto before = table.snapshot();
    a.circuit = ChannelHealth::Circuit::closed;
    a.updated_at_ms = 20;
    table.put(a);
    CHECK(table.snapshot()->at("acq-eu").circuit == ChannelHealth::Circuit::closed);
    CHECK(before->at("acq-eu").circuit == ChannelHealth::Circuit::open);  // a batch's snapshot does not change under it
}

TEST_CASE("channel health table: a report from the future is ignored and counted, never pins a channel") {
    const int64_t now = *parse_rfc3339("2026-11-26T06:49:31.220Z");
    auto report = [](const char* channel, ChannelHealth::Circuit c, int64_t at) {
        ChannelHealth h;
        h.channel = channel;
        h.circuit = c;
        h.updated_at_ms = at;
        return h;
    };
    using C = ChannelHealth::Circuit;
    struct Case {
        const char* name;
        std::optional<int64_t> held_at;  // the report the table holds for the channel
        int64_t incoming_at;
        HealthUpdate verdict;
    };
    const Case cases[] = {
        {"first report", {}, now - 100, HealthUpdate::apply},
        {"newer report", now - 2000, now - 100, HealthUpdate::apply},
        {"same time", now - 100, now - 100, HealthUpdate::apply},
        {"older report", now - 100, now - 2000, HealthUpdate::older},
        {"ahead within the skew", {}, now + kHealthFutureSkewMs, HealthUpdate::apply},
        {"ahead beyond the skew", {}, now + kHealthFutureSkewMs + 1, HealthUpdate::from_future},
        {"dated 2099", now - 100, *parse_rfc3339("2099-01-01T00:00:00Z"), HealthUpdate::from_future},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        std::optional<ChannelHealth> held;
        if (c.held_at) held = report("acq-eu", C::closed, *c.held_at);
        CHECK(judge_health_report(held ? &*held : nullptr, report("acq-eu", C::open, c.incoming_at), now) == c.verdict);
    }

    // Through the table: a forged open circuit dated 2099 does not enter it, so the connector's
    // next real report (closed) is applied and goes stale in time like any other.
    KafkaConfig k;
    ChannelHealthTable table(k);
    const auto ignored = [] { return metric_value("turnout_channel_health_reports_ignored_total", {{"reason", "from_future"}}); };
    const double before = ignored();
    CHECK(table.offer(report("acq-eu", C::open, *parse_rfc3339("2099-01-01T00:00:00Z")), now) == HealthUpdate::from_future);
    CHECK(ignored() == before + 1);
    CHECK(table.snapshot()->empty());
    CHECK(table.offer(report("acq-eu", C::closed, now - 50), now) == HealthUpdate::apply);
    CHECK(table.snapshot()->at("acq-eu").circuit == C::closed);
    CHECK(table.offer(report("acq-eu", C::open, now - 500), now) == HealthUpdate::older);
    CHECK(table.snapshot()->at("acq-eu").circuit == C::closed);
    // A channel id that cannot be a channel is not a report.
    CHECK_FALSE(decode_channel_health(R"({"channel":"a/b","circuit":"open","updated_at":"2026-11-26T06:49:31.220Z"})"));
    CHECK_FALSE(decode_channel_health(R"({"channel":"a\nb","circuit":"open","updated_at":"2026-11-26T06:49:31.220Z"})"));
}
