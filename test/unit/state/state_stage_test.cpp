// The state stage driven without a broker: results in; each payment's life cycle on
// payments.state (key root id, the result's partition); abort; a new instance restored from
// the changelog carries the life cycle on.
#include <doctest/doctest.h>

#include "codec/messages.hpp"
#include "domain/life_cycle.hpp"
#include "state/state_stage.hpp"
#include "support/pipeline.hpp"

using namespace turnout;
using namespace turnout::testing;

TEST_CASE_FIXTURE(StageWorld, "state stage: a life cycle per payment on its partition, across abort and restore") {
    const auto results = results_of(cfg, vault, {sale("st-1", 1000), sale("st-2", 1051)}, 1);
    REQUIRE(results.size() == 2);

    StateStage state(cfg, false, "0");
    StageDriver driver(state, {t.state});
    driver.assign({{t.results, 1}});
    auto out = driver.feed(as_input(results, 1));
    REQUIRE(out.size() == 2);
    for (const auto& o : out) {
        CHECK(o.topic == t.state);
        CHECK(o.partition == 1);
        const auto lc = decode_life_cycle(o.value);
        REQUIRE(lc.has_value());
        CHECK(lc->root_id == o.key);
    }
    driver.abort();
    out = driver.feed(as_input(results, 1));
    CHECK(out.size() == 2);
    driver.commit();
    // The same results delivered again (a replay): no change, nothing written.
    CHECK(driver.feed(as_input(results, 1)).empty());
    driver.commit();

    // Another instance, restored from payments.state, knows the payments: a replayed result
    // changes nothing there either.
    StateStage next(cfg, false, "1");
    StageDriver next_driver(next, {t.state});
    next_driver.assign({{t.results, 1}}, &driver);
    CHECK(next_driver.feed(as_input(results, 1)).empty());
    // A malformed result goes to the DLQ and the stage goes on.
    out = next_driver.feed({{t.results, 1, "k", "{not json", {}}});
    REQUIRE(out.size() == 1);
    CHECK(out[0].topic == t.dlq);
    CHECK(header_of(out[0], "turnout.error.stage") == "state");
}
