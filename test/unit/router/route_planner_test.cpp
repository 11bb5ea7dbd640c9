// Route planning.
#include <doctest/doctest.h>

#include "router/route_planner.hpp"

#include <map>

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

std::vector<ChannelConfig> channels() {
    std::vector<ChannelConfig> out;
    auto add = [&](const char* id, int64_t fixed, int64_t bps) {
        ChannelConfig c;
        c.id = id;
        c.kind = "simulator";
        c.fees = {fixed, bps};
        out.push_back(c);
    };
    add("acq-eu", 10, 150);
    add("acq-us", 30, 290);
    add("psp", 0, 200);
    out[0].fees_per_currency["JPY"] = {0, 100};
    return out;
}

RoutePlanner planner_of(const std::string& yaml) {
    return RoutePlanner(parse_routing_rules(YAML::Load(yaml), "routes.yaml", channels()).rules, channels());
}

// A card sale with every field a condition can look at.
PaymentRequest card_sale() {
    PaymentRequest r = request(PaymentType::sale, "EUR", InstrumentKind::card);
    r.payment_id = "pay-1";
    r.amount.value = 5000;
    r.instrument->pan = "4111111111111111";
    r.merchant = {"m-1", "5411", "DE"};
    r.customer = Customer{"c-1", "192.0.2.1", "FR"};
    return r;
}
}  // namespace

TEST_CASE("routing: first matching rule by currency and instrument kind") {
    const RoutePlanner planner({
        {"eur-cards", {{InstrumentKind::card, InstrumentKind::card_token}, {}, {}, {"EUR"}}, RouteAction::fallback, {"acq-eu", "psp"}},
        {"usd-cards", {{InstrumentKind::card}, {}, {}, {"USD", "GBP"}}, RouteAction::fallback, {"acq-us", "psp"}},
        {"wallets", {{InstrumentKind::wallet}}, RouteAction::fallback, {"psp"}},
        {"default", {}, RouteAction::fallback, {"psp", "acq-eu"}},
    }, channels());
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
        CHECK(plan->action == "fallback");
        CHECK(plan->channels == c.plan);
        // Same input, same plan.
        CHECK(planner.plan(request(c.type, c.currency, c.kind))->channels == plan->channels);
    }
}

TEST_CASE("routing: every condition, each matching and not matching") {
    struct Case {
        const char* name;
        const char* when;
        void (*change)(PaymentRequest&);  // makes the card sale miss the condition
    };
    const Case cases[] = {
        {"instrument kind", "{instrument: card}", [](PaymentRequest& r) { r.instrument->kind = InstrumentKind::wallet; }},
        {"card scheme visa", "{scheme: visa}", [](PaymentRequest& r) { r.instrument->pan = "5500000000000004"; }},
        {"card scheme mastercard 2-series", "{scheme: [mastercard]}", nullptr},
        {"BIN range", "{bin: [\"411000-411199\"]}", [](PaymentRequest& r) { r.instrument->pan = "4000056655665556"; }},
        {"single BIN", "{bin: \"411111\"}", [](PaymentRequest& r) { r.instrument->pan = "4111121111111111"; }},
        {"BIN of a protected card", "{bin: \"411111\"}", [](PaymentRequest& r) { r.instrument->pan.clear(); r.instrument->bin = "400009"; }},
        {"currency", "{currency: [EUR, USD]}", [](PaymentRequest& r) { r.amount.currency = "GBP"; }},
        {"merchant id", "{merchant_id: [m-1, m-2]}", [](PaymentRequest& r) { r.merchant.id = "m-3"; }},
        {"MCC", "{mcc: [\"5411\"]}", [](PaymentRequest& r) { r.merchant.mcc = "7995"; }},
        {"merchant country", "{merchant_country: [DE, AT]}", [](PaymentRequest& r) { r.merchant.country = "US"; }},
        {"amount at least", "{amount: {min: 5000}}", [](PaymentRequest& r) { r.amount.value = 4999; }},
        {"amount at most", "{amount: {max: 5000}}", [](PaymentRequest& r) { r.amount.value = 5001; }},
        {"payment type", "{type: [sale]}", [](PaymentRequest& r) { r.type = PaymentType::authorize; }},
        {"customer country", "{customer_country: [FR]}", [](PaymentRequest& r) { r.customer->country = "DE"; }},
        {"no customer", "{customer_country: [FR]}", [](PaymentRequest& r) { r.customer.reset(); }},
        {"all together",
         "{instrument: card, scheme: visa, bin: \"400000-499999\", currency: EUR, merchant_id: m-1, mcc: \"5411\", "
         "merchant_country: DE, amount: {min: 1, max: 10000}, type: sale, customer_country: FR}",
         [](PaymentRequest& r) { r.merchant.mcc = "5999"; }},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        const auto planner = planner_of(std::string("- {name: special, when: ") + c.when +
                                        ", plan: [acq-us]}\n- {name: default, plan: [psp]}\n");
        auto sale = card_sale();
        if (std::string(c.name) == "card scheme mastercard 2-series") {
            sale.instrument->pan = "2221000000000009";
            CHECK(planner.plan(sale)->rule == "special");
            sale.instrument->pan = "4111111111111111";
            CHECK(planner.plan(sale)->rule == "default");
            continue;
        }
        auto plan = planner.plan(sale);
        REQUIRE(plan);
        CHECK(plan->rule == "special");
        CHECK(plan->channels == std::vector<std::string>{"acq-us"});
        c.change(sale);
        CHECK(planner.plan(sale)->rule == "default");
    }
}

TEST_CASE("routing: card schemes by BIN") {
    const std::pair<const char*, const char*> cases[] = {
        {"411111", "visa"},     {"510000", "mastercard"}, {"555555", "mastercard"}, {"222100", "mastercard"},
        {"272099", "mastercard"}, {"272100", ""},        {"340000", "amex"},       {"378282", "amex"},
        {"601100", "discover"}, {"650000", "discover"},   {"644000", "discover"},   {"352800", "jcb"},
        {"358999", "jcb"},      {"620000", "unionpay"},   {"360000", "diners"},     {"300000", "diners"},
        {"900000", ""},         {"12345", ""},
    };
    for (const auto& [bin, scheme] : cases) {
        CAPTURE(bin);
        CHECK(card_scheme(bin) == scheme);
    }
}

TEST_CASE("routing: weighted split by payment_id hash is deterministic and follows the weights") {
    const auto planner = planner_of(
        "- name: split\n  split: [{channel: acq-eu, weight: 70}, {channel: acq-us, weight: 20}, {channel: psp, weight: 10}]\n");
    std::map<std::string, int> first;
    for (int i = 0; i < 10000; ++i) {
        auto r = card_sale();
        r.payment_id = "pay-" + std::to_string(i);
        auto plan = planner.plan(r);
        REQUIRE(plan);
        CHECK(plan->action == "split");
        CHECK(plan->channels.size() == 3);  // the others stay as fallbacks
        ++first[plan->channels.front()];
        CHECK(planner.plan(r)->channels == plan->channels);  // same payment_id, same plan
    }
    CHECK(first["acq-eu"] > 6500);
    CHECK(first["acq-eu"] < 7500);
    CHECK(first["acq-us"] > 1600);
    CHECK(first["acq-us"] < 2400);
    CHECK(first["psp"] > 700);
    CHECK(first["psp"] < 1300);
    // The fallbacks keep their listed order after the chosen one.
    for (int i = 0; i < 50; ++i) {
        auto r = card_sale();
        r.payment_id = "q-" + std::to_string(i);
        const auto plan = *planner.plan(r);
        if (plan.channels.front() == "acq-us") CHECK(plan.channels == std::vector<std::string>{"acq-us", "acq-eu", "psp"});
        if (plan.channels.front() == "psp") CHECK(plan.channels == std::vector<std::string>{"psp", "acq-eu", "acq-us"});
    }
    // The hash is FNV-1a 64, fixed across builds and platforms: a payment keeps its channel
    // after a restart or on another machine.
    CHECK(stable_hash("pay-1") == 0xdfd41ea7887105e7ULL);
}

TEST_CASE("routing: least cost orders channels by their fee for this amount and currency") {
    const auto planner = planner_of("- {name: cheapest, least_cost: [acq-us, acq-eu, psp]}\n");
    struct Case {
        int64_t amount;
        const char* currency;
        std::vector<std::string> plan;
    };
    // acq-eu 10 + 1.50 %, acq-us 30 + 2.90 %, psp 0 + 2.00 %; acq-eu JPY 0 + 1.00 %.
    const Case cases[] = {
        {100, "EUR", {"psp", "acq-eu", "acq-us"}},      // psp 2, acq-eu 12 (10 + 1.5→2), acq-us 33
        {2000, "EUR", {"acq-eu", "psp", "acq-us"}},     // acq-eu 40, psp 40: tie keeps listed order acq-eu before psp
        {10000, "EUR", {"acq-eu", "psp", "acq-us"}},    // acq-eu 160, psp 200, acq-us 320
        {100, "JPY", {"acq-eu", "psp", "acq-us"}},      // acq-eu 1, psp 2, acq-us 33
    };
    for (const auto& c : cases) {
        CAPTURE(c.amount);
        CAPTURE(c.currency);
        auto r = card_sale();
        r.amount = {c.amount, c.currency};
        auto plan = planner.plan(r);
        REQUIRE(plan);
        CHECK(plan->action == "least_cost");
        CHECK(plan->channels == c.plan);
    }
    CHECK(planner.fee("acq-eu", {10000, "EUR"}) == 160);
    CHECK(planner.fee("acq-eu", {10000, "JPY"}) == 100);
    CHECK(planner.fee("acq-us", {10000, "USD"}) == 320);
}

TEST_CASE("routing: health-aware choice by success rate then latency, with exploration; down channels skipped") {
    const int64_t now = 1'000'000;
    auto health = [&](const char* ch, ChannelHealth::Circuit c, int success, int latency, int64_t age = 0) {
        ChannelHealth h;
        h.channel = ch;
        h.circuit = c;
        h.success_permille = success;
        h.latency_ms = latency;
        h.updated_at_ms = now - age;
        return h;
    };
    using C = ChannelHealth::Circuit;
    struct Case {
        const char* name;
        std::vector<ChannelHealth> reports;
        std::vector<std::string> plan;
        std::vector<std::string> skipped;
    };
    const Case cases[] = {
        {"no reports: listed order", {}, {"acq-eu", "acq-us", "psp"}, {}},
        {"best success rate first",
         {health("acq-eu", C::closed, 900, 5), health("acq-us", C::closed, 990, 50), health("psp", C::closed, 950, 1)},
         {"acq-us", "psp", "acq-eu"}, {}},
        {"equal success: lower latency first",
         {health("acq-eu", C::closed, 990, 30), health("acq-us", C::closed, 990, 10), health("psp", C::closed, 990, 20)},
         {"acq-us", "psp", "acq-eu"}, {}},
        {"a measured perfect channel before an unmeasured one",
         {health("acq-us", C::closed, 1000, 40)}, {"acq-us", "acq-eu", "psp"}, {}},
        {"open circuit is skipped",
         {health("acq-eu", C::open, 0, 5), health("acq-us", C::closed, 990, 10)}, {"acq-us", "psp"}, {"acq-eu"}},
        {"a stale report is ignored",
         {health("acq-eu", C::open, 0, 5, kHealthStaleMs + 1)}, {"acq-eu", "acq-us", "psp"}, {}},
        {"all down: keep them all rather than route nowhere",
         {health("acq-eu", C::open, 0, 5), health("acq-us", C::open, 0, 5), health("psp", C::open, 0, 5)},
         {"acq-eu", "acq-us", "psp"}, {}},
    };
    const auto planner = planner_of("- {name: healthiest, health: {channels: [acq-eu, acq-us, psp], explore_percent: 0}}\n");
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        HealthMap map;
        for (const auto& h : c.reports) map[h.channel] = h;
        auto plan = planner.plan(card_sale(), &map, now);
        REQUIRE(plan);
        CHECK(plan->rule == "healthiest");
        CHECK(plan->channels == c.plan);
        CHECK(plan->skipped == c.skipped);
        CHECK(planner.plan(card_sale(), &map, now)->channels == plan->channels);
    }

    // A down channel is skipped by a plain fallback rule too.
    const auto fallback = planner_of("- {name: eu, plan: [acq-eu, psp]}\n");
    HealthMap down{{"acq-eu", health("acq-eu", C::open, 0, 5)}};
    auto plan = fallback.plan(card_sale(), &down, now);
    CHECK(plan->channels == std::vector<std::string>{"psp"});
    CHECK(plan->skipped == std::vector<std::string>{"acq-eu"});

    // Exploration: about explore_percent of payments try a non-best channel first.
    const auto explorer = planner_of("- {name: healthiest, health: {channels: [acq-eu, acq-us, psp], explore_percent: 10}}\n");
    HealthMap map{{"acq-eu", health("acq-eu", C::closed, 999, 5)}, {"acq-us", health("acq-us", C::closed, 900, 5)},
                  {"psp", health("psp", C::closed, 900, 9)}};
    int explored = 0;
    for (int i = 0; i < 10000; ++i) {
        auto r = card_sale();
        r.payment_id = "e-" + std::to_string(i);
        auto p = explorer.plan(r, &map, now);
        if (p->channels.front() != "acq-eu") {
            ++explored;
            CHECK(p->action == "health_explore");
        }
        CHECK(explorer.plan(r, &map, now)->channels == p->channels);
    }
    CHECK(explored > 700);
    CHECK(explored < 1300);
}

TEST_CASE("routing: follow-ups go to the original's channel; no match gives no plan") {
    const RoutePlanner planner({{"eur", {{}, {}, {}, {"EUR"}}, RouteAction::fallback, {"acq-eu"}}}, channels());
    auto refund = request(PaymentType::refund, "USD", std::nullopt);
    refund.original = OriginalRef{"p0", "acq-us", "ref"};
    auto plan = planner.plan(refund);
    REQUIRE(plan);
    CHECK(plan->channels == std::vector<std::string>{"acq-us"});
    CHECK(plan->rule == "original_channel");
    CHECK_FALSE(planner.plan(request(PaymentType::sale, "USD", InstrumentKind::card)));
}

TEST_CASE("routing rules: invalid rules are refused with file:line:column") {
    const std::pair<const char*, const char*> cases[] = {
        {"- {name: a, plan: [nowhere]}\n", "routes.yaml:1:20: route plan names unknown channel `nowhere`"},
        {"- {name: a}\n", "routes.yaml:1:3: a route needs exactly one of"},
        {"- {name: a, plan: [psp], split: [{channel: psp, weight: 1}]}\n", "routes.yaml:1:3: a route needs exactly one of"},
        {"- {name: a, when: {colour: red}, plan: [psp]}\n", "routes.yaml:1:20: unknown key `router.routes[].when.colour`"},
        {"- {name: a, when: {bin: \"4111\"}, plan: [psp]}\n", "routes.yaml:1:25: expected a BIN as 6 digits"},
        {"- {name: a, when: {scheme: visaa}, plan: [psp]}\n", "routes.yaml:1:28: unknown card scheme `visaa`"},
        {"- {name: a, when: {currency: EUR, amount: {min: 5, max: 1}}, plan: [psp]}\n", "routes.yaml:1:43: `when.amount.min` is above `max`"},
        {"- {name: a, when: {type: refund}, plan: [psp]}\n", "routes.yaml:1:26: `when.type` is sale or authorize"},
        {"- {name: a, split: [{channel: psp, weight: 0}]}\n", "routes.yaml:1:44: `split[].weight` must be between 1"},
        {"- {name: a, health: {channels: [psp], explore_percent: 80}}\n", "routes.yaml:1:56: `explore_percent` must be between 0 and 50"},
        {"- {name: a, plan: [psp, psp]}\n", "routes.yaml:1:25: channel `psp` listed twice"},
        {"- {name: a, plan: [psp]}\n- {name: a, plan: [psp]}\n", "routes.yaml:2:10: duplicate route name `a`"},
        {"- {name: a, when: {merchant_country: deu}, plan: [psp]}\n", "routes.yaml:1:38: expected an ISO 3166 alpha-2"},
    };
    for (const auto& [yaml, error] : cases) {
        CAPTURE(std::string(yaml));
        std::string what;
        try {
            parse_routing_rules(YAML::Load(yaml), "routes.yaml", channels());
        } catch (const ConfigError& e) {
            what = e.what();
        }
        CHECK(what.rfind(error, 0) == 0);
        if (what.rfind(error, 0) != 0) MESSAGE(what);
    }
}

