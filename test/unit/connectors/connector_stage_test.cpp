// The connector stage driven without a broker, on an in-process simulator channel: payments
// of its channel topic in; the result on the request's partition, or on a soft failure the
// payment on the next channel's topic; counters by outcome; abort and replay.
#include <doctest/doctest.h>

#include "codec/messages.hpp"
#include "connector_stage.hpp"
#include "support/pipeline.hpp"

using namespace turnout;
using namespace turnout::testing;


TEST_CASE_FIXTURE(StageWorld, "connector stage: approved, declined and a soft failure moved to the next channel of the plan") {
    // ..00 approved, ..51 declined 51, ..96 a soft failure on the first channel of the plan.
    const auto recs = on_first_channel(cfg, vault, {sale("c-1", 1000), sale("c-2", 1051), sale("c-3", 1096)}, 2);
    REQUIRE(recs.size() == 3);

    ConnectorStage connector(cfg, *cfg.channel("sim-a"), "0", &vault);
    StageDriver driver(connector, {t.pending});
    driver.assign({{t.channel("sim-a"), 5}});
    const double approved_before = metric_value("turnout_channel_calls_total", {{"channel", "sim-a"}, {"outcome", "approved"}});
    const double soft_before = metric_value("turnout_channel_calls_total", {{"channel", "sim-a"}, {"outcome", "soft_failure"}});
    auto out = driver.feed(as_input(recs, 5));

    std::map<std::string, PaymentResult> results;
    for (const auto& o : out)
        if (o.topic == t.results) {
            auto r = decode_result(o.value);
            REQUIRE(r.has_value());
            CHECK(o.partition == 2);  // the request's partition
            CHECK(o.key == r->payment_id);
            results[r->payment_id] = *r;
        }
    REQUIRE(results.size() == 2);
    CHECK(results["c-1"].status == ResultStatus::approved);
    CHECK(results["c-1"].channel == "sim-a");
    CHECK_FALSE(results["c-1"].channel_ref.empty());
    CHECK(results["c-2"].status == ResultStatus::declined);
    CHECK(results["c-2"].reason.code == "51");
    const auto next = first_to(out, t.channel("sim-b"));
    CHECK(next.key == "c-3");
    const auto moved = decode_routed(next.value);
    REQUIRE(moved.has_value());
    CHECK(moved->home_partition == 2);
    CHECK(metric_value("turnout_channel_calls_total", {{"channel", "sim-a"}, {"outcome", "approved"}}) ==
          approved_before + 1);
    CHECK(metric_value("turnout_channel_calls_total", {{"channel", "sim-a"}, {"outcome", "soft_failure"}}) ==
          soft_before + 1);

    // Aborted: the results are gone; delivered again, the channel answers the same way.
    driver.abort();
    out = driver.feed(as_input(recs, 5));
    driver.commit();
    CHECK(driver.committed_to(t.results).size() == 2);
    CHECK(driver.committed_to(t.channel("sim-b")).size() == 1);

    // On sim-b the moved payment is approved.
    ConnectorStage second(cfg, *cfg.channel("sim-b"), "0", &vault);
    StageDriver driver_b(second, {t.pending});
    driver_b.assign({{t.channel("sim-b"), 0}});
    out = driver_b.feed({{t.channel("sim-b"), 0, next.key, next.value, next.headers}});
    const auto r = decode_result(first_to(out, t.results).value);
    REQUIRE(r.has_value());
    CHECK(r->status == ResultStatus::approved);
    CHECK(r->channel == "sim-b");
}

TEST_CASE_FIXTURE(StageWorld, "connector stage: an unreadable payment goes to the DLQ and the stage goes on") {
    ConnectorStage connector(cfg, *cfg.channel("sim-a"), "0", &vault);
    StageDriver driver(connector, {t.pending});
    driver.assign({{t.channel("sim-a"), 0}});
    const auto recs = on_first_channel(cfg, vault, {sale("d-1", 1000)}, 0);
    auto in = as_input(recs, 0);
    in.insert(in.begin(), Input{t.channel("sim-a"), 0, "junk", std::string("\x00\xff{", 3), {}});
    const auto out = driver.feed(in);
    const auto dlq = first_to(out, t.dlq);
    CHECK(header_of(dlq, "turnout.error.stage") == "connector");
    CHECK(header_of(dlq, "turnout.error.reason") == "undecodable_routed_payment");
    CHECK(decode_result(first_to(out, t.results).value)->status == ResultStatus::approved);
}
