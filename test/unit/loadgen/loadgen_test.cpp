// The load generator's requests are what it claims they are.
#include <doctest/doctest.h>

#include <map>

#include "codec/request_decoder.hpp"
#include "loadgen/request_factory.hpp"
#include "security/card_vault.hpp"
#include "domain/life_cycle.hpp"

using namespace turnout;

TEST_CASE("generated requests: valid ones validate, invalid ones are rejected with the labelled code") {
    RequestFactory f(42, "t");
    std::map<std::string, int> labels;
    std::map<std::string, int> currencies;
    for (int i = 0; i < 5000; ++i) {
        const auto g = f.next_initial();
        ++labels[g.label];
        const auto out = decode_request(g.value, 65536);
        if (g.label.rfind("invalid:", 0) == 0) {
            REQUIRE(out.rejection);
            CHECK(out.rejection->code == g.label.substr(8));
            CHECK(out.rejection->payment_id.empty() == !g.expects_result);
        } else {
            REQUIRE_MESSAGE(out.request, g.value);
            ++currencies[out.request->amount.currency];
            if (out.request->instrument->kind == InstrumentKind::card)
                CHECK(luhn_valid(out.request->instrument->pan));
            CHECK(g.key == g.payment_id);
        }
    }
    CHECK(labels["sale"] > 2500);
    CHECK(labels["authorize"] > 1000);
    CHECK(currencies.size() >= 4);
    int invalid = 0;
    for (const auto& [l, n] : labels)
        if (l.rfind("invalid:", 0) == 0) invalid += n;
    CHECK(invalid > 50);
    CHECK(invalid < 300);
}

TEST_CASE("follow-ups reference the approved original and are keyed by it") {
    RequestFactory f(7, "t", FactoryMix{0, 0.3, 1.0, 0.0, 0.0, 0.0, 0.0});
    PaymentResult auth;
    auth.payment_id = "t-a1";
    auth.type = PaymentType::authorize;
    auth.status = ResultStatus::approved;
    auth.amount = Money{5000, "EUR"};
    auth.merchant_id = "m-1";
    auth.channel = "acq-eu";
    auth.channel_ref = "acq-eu-1";
    auto cap = f.follow_up_for(auth);
    REQUIRE(cap);
    CHECK(cap->type == PaymentType::capture);
    CHECK(cap->key == "t-a1");
    const auto out = decode_request(cap->value, 65536);
    REQUIRE(out.request);
    CHECK(out.request->original->channel == "acq-eu");
    CHECK(out.request->amount.value == 5000);
    auth.status = ResultStatus::declined;
    CHECK_FALSE(f.follow_up_for(auth));
}

TEST_CASE("life cycles: each step follows the previous result and stays within the rules, except planned refusals") {
    // Everything captured in parts and refunded, and every life cycle ends with a refused step.
    RequestFactory f(11, "t", FactoryMix{0, 1.0, 1.0, 0.2, 1.0, 1.0, 1.0});
    int voids = 0, captures = 0, refunds = 0, refusals = 0;
    for (int i = 0; i < 200; ++i) {
        PaymentResult res;
        res.payment_id = res.root_id = "t-a" + std::to_string(i);
        res.type = PaymentType::authorize;
        res.status = ResultStatus::approved;
        res.amount = Money{10001 + i, "EUR"};
        res.merchant_id = "m-1";
        res.channel = "acq-eu";
        res.channel_ref = "ref";
        auto lc = *life_cycle_from_result(res);
        apply_result(lc, res, true);
        int steps = 0;
        for (auto g = f.follow_up_for(res); g; g = f.follow_up_for(res)) {
            REQUIRE(++steps < 10);
            CHECK(g->key == lc.root_id);
            const auto out = decode_request(g->value, 65536);
            REQUIRE(out.request);
            const auto d = check_follow_up(&lc, *out.request);
            CHECK(g->expect_refusal == (d.verdict == FollowUpVerdict::reject));
            refusals += g->expect_refusal;
            voids += g->type == PaymentType::void_;
            captures += g->type == PaymentType::capture;
            refunds += g->type == PaymentType::refund;
            res = PaymentResult{};
            res.payment_id = out.request->payment_id;
            res.root_id = lc.root_id;
            res.type = out.request->type;
            res.status = d.verdict == FollowUpVerdict::accept ? ResultStatus::approved : ResultStatus::rejected;
            res.amount = out.request->amount;
            apply_result(lc, res, true);
        }
        CHECK(steps >= 2);
        if (lc.voided == 0) CHECK(lc.captured == lc.authorized);
    }
    CHECK(refusals == 200);
    CHECK(voids > 10);
    CHECK(captures > 300);
    CHECK(refunds > 150);
}

TEST_CASE("luhn_complete makes valid numbers") {
    for (const char* prefix : {"411111111111111", "55000000000000", "22230000000000"})
        CHECK(luhn_valid(RequestFactory::luhn_complete(prefix)));
}
