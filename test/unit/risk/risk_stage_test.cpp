// The risk stage driven without a broker: routed payments in; the payment on its first
// channel's topic, or a declined result on the request's partition, and the velocity
// changelog out; abort and replay; the velocity book rebuilt by another instance.
#include <doctest/doctest.h>

#include "codec/messages.hpp"
#include "model/card_number.hpp"
#include "risk/risk_stage.hpp"
#include "support/pipeline.hpp"

using namespace turnout;
using namespace turnout::testing;

TEST_CASE_FIXTURE(StageWorld, "risk stage: a payment goes to its first channel; a blocklisted BIN is declined on the request's partition") {
    const auto recs = routed(cfg, vault, {sale("r-1", 1000), sale("r-2", 1000, card_number("400009"))}, 4);
    REQUIRE(recs.size() == 2);

    RiskStage risk(cfg, nullptr, "0");
    StageDriver driver(risk, {t.velocity});
    driver.assign({{t.routed, 1}});
    const double declined_before = metric_value("turnout_risk_decisions_total", {{"decision", "decline"}});
    auto out = driver.feed(as_input(recs, 1));

    const auto forwarded = first_to(out, t.channel("sim-a"));
    CHECK(forwarded.key == "r-1");  // channel topics are keyed by root id
    const auto p = decode_routed(forwarded.value);
    REQUIRE(p.has_value());
    CHECK(p->home_partition == 4);
    REQUIRE(p->risk.has_value());

    const auto declined = first_to(out, t.results);
    const auto r = decode_result(declined.value);
    REQUIRE(r.has_value());
    CHECK(r->payment_id == "r-2");
    CHECK(r->status == ResultStatus::declined);
    CHECK(r->reason.code.rfind("risk_", 0) == 0);
    CHECK(declined.partition == 4);  // the request's partition, not the routed one
    size_t to_channels = 0, velocity = 0;
    for (const auto& o : out) {
        to_channels += o.topic.rfind(t.channel_prefix, 0) == 0;
        if (o.topic == t.velocity) {
            ++velocity;
            CHECK(o.partition == 1);  // the velocity changelog follows the routed partition
        }
    }
    CHECK(to_channels == 1);
    CHECK(velocity >= 1);
    CHECK(metric_value("turnout_risk_decisions_total", {{"decision", "decline"}}) == declined_before + 1);

    // Aborted and delivered again: the same output, nothing counted twice in the book.
    driver.abort();
    auto again = driver.feed(as_input(recs, 1));
    CHECK(again.size() == out.size());
    driver.commit();
    CHECK(driver.committed_to(t.channel("sim-a")).size() == 1);
    CHECK(driver.committed_to(t.results).size() == 1);
    CHECK(driver.committed_to(t.velocity).size() == velocity);

    // The velocity book is rebuilt from the changelog by the next instance: the card of r-1
    // (4111…) reaches the velocity limit one payment sooner there than on a card book
    // without history.
    std::vector<std::string> more;
    for (int i = 0; i < 25; ++i) more.push_back(sale("v-" + std::to_string(i), 1000));
    const auto burst = as_input(routed(cfg, vault, more, 4), 1);
    const auto declines = [&](StageDriver& d) {
        int n = 0;
        for (const auto& o : d.feed(burst))
            if (o.topic == t.results) n += decode_result(o.value)->status == ResultStatus::declined;
        return n;
    };
    RiskStage restored(cfg, nullptr, "1");
    StageDriver restored_driver(restored, {t.velocity});
    restored_driver.assign({{t.routed, 1}}, &driver);
    TempDir other;
    auto fresh_cfg = cfg;
    fresh_cfg.state_dir = (other.path / "state").string();
    RiskStage fresh(fresh_cfg, nullptr, "2");
    StageDriver fresh_driver(fresh, {t.velocity});
    fresh_driver.assign({{t.routed, 1}});
    const int without_history = declines(fresh_driver);
    CHECK(without_history > 0);  // 25 payments of one card pass the limit of 20
    CHECK(declines(restored_driver) == without_history + 1);
}
