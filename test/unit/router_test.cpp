// Route planning and payment_id dedupe.
#include <doctest/doctest.h>

#include "router/dedupe.hpp"
#include "router/route_planner.hpp"

using namespace turnout;

namespace {
PaymentRequest request(PaymentType type, const char* currency, std::optional<InstrumentKind> kind) {
    PaymentRequest r;
    r.payment_id = "p";
    r.type = type;
    r.amount = {100, currency};
    if (kind) {
        r.instrument = Instrument{};
        r.instrument->kind = *kind;
    }
    return r;
}
}  // namespace

TEST_CASE("routing: first matching rule by currency and instrument kind") {
    const RoutePlanner planner({
        {"eur-cards", {"EUR"}, {InstrumentKind::card, InstrumentKind::card_token}, {"acq-eu", "psp"}},
        {"usd-cards", {"USD", "GBP"}, {InstrumentKind::card}, {"acq-us", "psp"}},
        {"wallets", {}, {InstrumentKind::wallet}, {"psp"}},
        {"default", {}, {}, {"psp", "acq-eu"}},
    });
    struct Case {
        PaymentType type;
        const char* currency;
        std::optional<InstrumentKind> kind;
        const char* rule;
        std::vector<std::string> plan;
    };
    const Case cases[] = {
        {PaymentType::sale, "EUR", InstrumentKind::card, "eur-cards", {"acq-eu", "psp"}},
        {PaymentType::authorize, "EUR", InstrumentKind::card_token, "eur-cards", {"acq-eu", "psp"}},
        {PaymentType::sale, "GBP", InstrumentKind::card, "usd-cards", {"acq-us", "psp"}},
        {PaymentType::sale, "GBP", InstrumentKind::card_token, "default", {"psp", "acq-eu"}},
        {PaymentType::sale, "EUR", InstrumentKind::wallet, "wallets", {"psp"}},
        {PaymentType::sale, "JPY", InstrumentKind::bank_account, "default", {"psp", "acq-eu"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.rule);
        auto plan = planner.plan(request(c.type, c.currency, c.kind));
        REQUIRE(plan);
        CHECK(plan->rule == c.rule);
        CHECK(plan->channels == c.plan);
        // Same input, same plan.
        CHECK(planner.plan(request(c.type, c.currency, c.kind))->channels == plan->channels);
    }
}

TEST_CASE("routing: follow-ups go to the original's channel; no match gives no plan") {
    const RoutePlanner planner({{"eur", {"EUR"}, {}, {"acq-eu"}}});
    auto refund = request(PaymentType::refund, "USD", std::nullopt);
    refund.original = OriginalRef{"p0", "acq-us", "ref"};
    auto plan = planner.plan(refund);
    REQUIRE(plan);
    CHECK(plan->channels == std::vector<std::string>{"acq-us"});
    CHECK(plan->rule == "original_channel");
    CHECK_FALSE(planner.plan(request(PaymentType::sale, "USD", InstrumentKind::card)));
}

TEST_CASE("dedupe: a duplicate is caught, an aborted id is forgotten, capacity bounds memory") {
    PaymentIdDedupe d(1000);
    CHECK(d.first_time("a"));
    CHECK_FALSE(d.first_time("a"));
    d.commit();
    CHECK_FALSE(d.first_time("a"));
    CHECK(d.first_time("b"));
    d.abort();  // "b" will be replayed: it must count as new again
    CHECK(d.first_time("b"));
    d.commit();
    for (int i = 0; i < 5000; ++i) d.first_time("x" + std::to_string(i));
    d.commit();
    CHECK(d.size() == 1000);
    CHECK(d.first_time("a"));  // evicted long ago
}
