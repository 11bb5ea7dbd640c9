// The router stage driven without a broker: records of payments.requests in; the routed
// payment, the DLQ record, the rejected result and the life-cycle ledger's changelog out,
// with their topics, keys, partitions, headers and counters; abort, replay and restore.
#include <doctest/doctest.h>

#include "codec/messages.hpp"
#include "router/router_stage.hpp"
#include "support/stage_config.hpp"
#include "support/stage_driver.hpp"

using namespace turnout;
using namespace turnout::testing;

namespace {
size_t count_topic(const std::vector<kafka::OutRecord>& v, const std::string& topic) {
    size_t n = 0;
    for (const auto& r : v) n += r.topic == topic;
    return n;
}
const kafka::OutRecord& only(const std::vector<kafka::OutRecord>& v, const std::string& topic) {
    const kafka::OutRecord* found = nullptr;
    for (const auto& r : v)
        if (r.topic == topic) {
            REQUIRE_MESSAGE(found == nullptr, "more than one record to " << topic);
            found = &r;
        }
    REQUIRE_MESSAGE(found != nullptr, "no record to " << topic);
    return *found;
}
}  // namespace

TEST_CASE_FIXTURE(StageWorld, "router stage: a sale is routed and remembered; abort forgets it; its duplicate is refused after a restore") {
    RouterStage router(cfg, vault, nullptr, "0");
    StageDriver driver(router, {t.lifecycle});
    driver.assign({{t.requests, 3}});
    const double in_before = metric_value("turnout_stage_records_in_total", {{"stage", "router"}});

    const Input sale1{t.requests, 3, "p-1", sale("p-1", 1000), {{"traceparent", kTraceparent}}};
    auto out = driver.feed({sale1});
    const auto& routed = only(out, t.routed);
    CHECK(routed.key != "p-1");  // keyed by the instrument fingerprint
    CHECK(routed.value.find("4111111111111111") == std::string::npos);  // the PAN only sealed
    CHECK(header_of(routed, "traceparent") == kTraceparent);  // carried to what descends from it
    const auto p = decode_routed(routed.value);
    REQUIRE(p.has_value());
    CHECK(p->home_partition == 3);
    CHECK(p->route.channels == std::vector<std::string>{"sim-a", "sim-b"});
    const auto& ledger = only(out, t.lifecycle);
    CHECK(ledger.key == "p-1");
    CHECK(ledger.partition == 3);  // the changelog partition is the request's
    CHECK(count_topic(out, t.results) == 0);
    CHECK(metric_value("turnout_stage_records_in_total", {{"stage", "router"}}) == in_before + 1);

    // Aborted: the same record comes again and is routed again, not refused as a duplicate.
    driver.abort();
    out = driver.feed({sale1});
    CHECK(count_topic(out, t.routed) == 1);
    driver.commit();

    // Committed: the same payment_id again is refused, on the request's partition of results.
    out = driver.feed({{t.requests, 3, "p-1", sale("p-1", 1000), {}}});
    CHECK(count_topic(out, t.routed) == 0);
    const auto dup = decode_result(only(out, t.results).value);
    REQUIRE(dup.has_value());
    CHECK(dup->status == ResultStatus::rejected);
    CHECK(dup->reason.code == "duplicate_request");
    CHECK(only(out, t.results).partition == 3);
    driver.commit();

    // Another instance takes the partition over: its ledger is rebuilt from the changelog and
    // the payment_id is still refused.
    RouterStage next(cfg, vault, nullptr, "1");
    StageDriver next_driver(next, {t.lifecycle});
    next_driver.assign({{t.requests, 3}}, &driver);
    out = next_driver.feed({{t.requests, 3, "p-1", sale("p-1", 1000), {}}});
    CHECK(count_topic(out, t.routed) == 0);
    REQUIRE(count_topic(out, t.results) == 1);
    CHECK(decode_result(only(out, t.results).value)->reason.code == "duplicate_request");
    // A new payment_id on the same partition is routed.
    out = next_driver.feed({{t.requests, 3, "p-2", sale("p-2", 2000), {}}});
    CHECK(count_topic(out, t.routed) == 1);
}

TEST_CASE_FIXTURE(StageWorld, "router stage: bad input goes to the DLQ with its origin; a readable payment_id also gets a rejected result") {
    RouterStage router(cfg, vault, nullptr, "0");
    StageDriver driver(router, {t.lifecycle});
    driver.assign({{t.requests, 0}});

    struct Case {
        std::string value;
        bool result;  // a rejected result is expected (the payment_id is readable)
        std::string code;
    };
    const Case cases[] = {
        {"not json", false, ""},
        {R"({"type":"sale"})", false, ""},
        {R"({"payment_id":"p-unknown_currency","type":"sale","merchant":{"id":"m1"},"amount":{"value":10,"currency":"ZZZ"},)"
         R"("instrument":{"kind":"card","pan":"4111111111111111","expiry":"2812"},"created_at":"2026-11-26T06:33:25.123Z"})",
         true, "unknown_currency"},
        {sale("p-invalid_pan", 1000, "4111111111111112"), true, "invalid_pan"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.value);
        auto out = driver.feed({{t.requests, 0, c.result ? "p-" + c.code : "k", c.value, {}}});
        CHECK(count_topic(out, t.routed) == 0);
        const auto& dlq = only(out, t.dlq);
        CHECK(header_of(dlq, "turnout.error.stage") == "router");
        CHECK(header_of(dlq, "turnout.error.topic") == t.requests);
        CHECK(header_of(dlq, "turnout.error.partition") == "0");
        CHECK_FALSE(header_of(dlq, "turnout.error.reason").empty());
        CHECK(dlq.value.find("4111111111111112") == std::string::npos);  // a card number is sealed
        CHECK(count_topic(out, t.results) == (c.result ? 1u : 0u));
        if (c.result) {
            const auto r = decode_result(only(out, t.results).value);
            REQUIRE(r.has_value());
            CHECK(r->status == ResultStatus::rejected);
            CHECK(r->reason.code == c.code);
        }
        driver.commit();
    }
}
