// Risk rules: amount limits per currency and a BIN blocklist, with named hits.
#include <doctest/doctest.h>

#include "risk/risk_rules.hpp"

using namespace turnout;

TEST_CASE("risk: table of cases") {
    RiskConfig cfg;
    cfg.decline_score = 100;
    cfg.default_amount_limit = 1000;
    cfg.amount_limit_per_currency = {{"JPY", 50000}};
    cfg.amount_limit_score = 100;
    cfg.bin_blocklist = {"400009"};
    cfg.bin_blocklist_score = 60;
    const RiskRules rules(cfg);
    struct Case {
        const char* name;
        PaymentType type;
        int64_t amount;
        const char* currency;
        const char* bin;
        const char* decision;
        int score;
        std::vector<std::string> hits;
    };
    const Case cases[] = {
        {"small sale", PaymentType::sale, 999, "EUR", "411111", "approve", 0, {}},
        {"at the limit", PaymentType::sale, 1000, "EUR", "411111", "approve", 0, {}},
        {"over the default limit", PaymentType::sale, 1001, "EUR", "411111", "decline", 100, {"amount_limit"}},
        {"JPY has its own limit", PaymentType::authorize, 20000, "JPY", "411111", "approve", 0, {}},
        {"over the JPY limit", PaymentType::authorize, 50001, "JPY", "411111", "decline", 100, {"amount_limit"}},
        {"blocked BIN alone scores below decline", PaymentType::sale, 10, "EUR", "400009", "approve", 60, {"bin_blocklist"}},
        {"both rules", PaymentType::sale, 5000, "EUR", "400009", "decline", 160, {"amount_limit", "bin_blocklist"}},
        {"refund is not scored", PaymentType::refund, 5000, "EUR", "400009", "skipped", 0, {}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        RoutedPayment p;
        p.request.type = c.type;
        p.request.amount = {c.amount, c.currency};
        p.request.instrument = Instrument{};
        p.request.instrument->bin = c.bin;
        const auto a = rules.assess(p);
        CHECK(a.decision == c.decision);
        CHECK(a.score == c.score);
        CHECK(a.rules_hit == c.hits);
    }
}
