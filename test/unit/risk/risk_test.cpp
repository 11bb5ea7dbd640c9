// Risk rules: amount limits, blocklists, velocity, country mismatch, score bands; named hits.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "risk/risk_rules.hpp"
#include "risk/velocity.hpp"

using namespace turnout;

namespace {
RiskPolicy policy_of(const std::string& yaml) { return parse_risk_rules(YAML::Load(yaml), "risk.yaml"); }

RoutedPayment card_sale() {
    RoutedPayment p;
    p.request.payment_id = "pay-1";
    p.request.type = PaymentType::sale;
    p.request.amount = {5000, "EUR"};
    p.request.merchant = {"m-1", "5411", "DE"};
    p.request.customer = Customer{"c-1", "192.0.2.7", "FR"};
    p.request.instrument = Instrument{};
    p.request.instrument->bin = "411111";
    p.request.instrument->fingerprint = "fp-1";
    return p;
}
}  // namespace

TEST_CASE("risk: the short form (amount_limits, bin_blocklist) as a table of cases") {
    const auto policy = policy_of(R"(
decline_score: 100
amount_limits: { default: 1000, per_currency: { JPY: 50000 } }
amount_limit_score: 100
bin_blocklist: ["400009"]
bin_blocklist_score: 60
)");
    const RiskScorer rules(policy);
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
        CAPTURE(std::string(c.name));
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

TEST_CASE("risk: every rule kind, hit and not hit") {
    const auto policy = policy_of(R"(
decline_score: 100
review_score: 50
card_countries:
  - { bins: "400000-409999", country: US }
  - { bins: ["411111", "420000-429999"], country: DE }
ip_countries:
  - { cidr: 192.0.2.0/24, country: FR }
  - { cidr: 198.51.100.0/24, country: DE }
  - { cidr: 198.51.100.128/25, country: NL }
rules:
  - { name: eur_limit, score: 100, amount_limit: { currency: EUR, max: 100000 } }
  - { name: gambling_limit, score: 100, amount_limit: { mcc: ["7995"], max: 2000 } }
  - { name: blocked_bin, score: 100, block: { bin: ["400009", "555500-555599"] } }
  - { name: blocked_card_country, score: 100, block: { card_country: [US] } }
  - { name: blocked_customer_country, score: 100, block: { customer_country: [KP] } }
  - { name: blocked_card, score: 100, block: { fingerprint: [fp-stolen] } }
  - { name: country_mismatch, score: 30, country_mismatch: {} }
)");
    const RiskScorer scorer(policy);
    struct Case {
        const char* name;
        void (*change)(RoutedPayment&);
        const char* decision;
        int score;
        std::vector<std::string> hits;
    };
    const Case cases[] = {
        {"clean: card DE, IP DE", [](RoutedPayment& p) { p.request.customer->ip = "198.51.100.5"; }, "approve", 0, {}},
        {"EUR over its limit",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.amount.value = 100001;
         },
         "decline", 100, {"eur_limit"}},
        {"USD not limited by the EUR rule",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.amount = {100001, "USD"};
         },
         "approve", 0, {}},
        {"gambling MCC over its limit",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.merchant.mcc = "7995";
         },
         "decline", 100, {"gambling_limit"}},
        {"blocked BIN",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.instrument->bin = "400009";
         },
         "decline", 230, {"blocked_bin", "blocked_card_country", "country_mismatch"}},  // 400009 is a US card
        {"blocked BIN range",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.instrument->bin = "555512";
         },
         "decline", 100, {"blocked_bin"}},
        {"blocked card country",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.instrument->bin = "401234";
         },
         "decline", 130, {"blocked_card_country", "country_mismatch"}},
        {"blocked customer country (declared, IP not in the table)",
         [](RoutedPayment& p) {
             p.request.customer->ip = "203.0.113.9";
             p.request.customer->country = "KP";
         },
         "decline", 130, {"blocked_customer_country", "country_mismatch"}},
        {"blocked fingerprint",
         [](RoutedPayment& p) {
             p.request.customer->ip = "198.51.100.5";
             p.request.instrument->fingerprint = "fp-stolen";
         },
         "decline", 100, {"blocked_card"}},
        {"country mismatch: card DE, IP FR", [](RoutedPayment&) {}, "approve", 30, {"country_mismatch"}},
        {"most specific network wins: 198.51.100.200 is NL",
         [](RoutedPayment& p) { p.request.customer->ip = "198.51.100.200"; }, "approve", 30, {"country_mismatch"}},
        {"no IP match: the declared country decides",
         [](RoutedPayment& p) {
             p.request.customer->ip = "not-an-ip";
             p.request.customer->country = "DE";
         },
         "approve", 0, {}},
        {"card country unknown: no mismatch",
         [](RoutedPayment& p) { p.request.instrument->bin = "510000"; }, "approve", 0, {}},
        {"mismatch alone stays under the review band (50)",
         [](RoutedPayment& p) {
             p.request.instrument->bin = "420001";
             p.request.merchant.mcc = "7995";
             p.request.amount.value = 1000;
         },
         "approve", 30, {"country_mismatch"}},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        auto p = card_sale();
        c.change(p);
        const auto a = scorer.assess(p);
        CHECK(a.decision == c.decision);
        CHECK(a.score == c.score);
        CHECK(a.rules_hit == c.hits);
        CHECK(scorer.assess(p).rules_hit == a.rules_hit);  // same input, same answer
    }
}

TEST_CASE("risk: score bands approve / review / decline") {
    const auto policy = policy_of(R"(
decline_score: 100
review_score: 40
card_countries: [{ bins: "411111", country: DE }]
rules:
  - { name: country_mismatch, score: 40, country_mismatch: {} }
  - { name: big, score: 60, amount_limit: { max: 10000 } }
)");
    const RiskScorer scorer(policy);
    auto p = card_sale();
    p.request.customer->country = "DE";
    p.request.customer->ip.clear();
    CHECK(scorer.assess(p).decision == "approve");
    p.request.customer->country = "FR";
    auto a = scorer.assess(p);
    CHECK(a.decision == "review");
    CHECK(a.score == 40);
    p.request.amount.value = 10001;
    a = scorer.assess(p);
    CHECK(a.decision == "decline");
    CHECK(a.rules_hit == std::vector<std::string>{"big", "country_mismatch"});  // highest score first
}

TEST_CASE("risk: velocity by count and by amount, per instrument and per merchant, over sliding windows") {
    const auto policy = policy_of(R"(
rules:
  - { name: card_count, score: 100, velocity: { per: instrument, window_seconds: 60, max_count: 3 } }
  - { name: card_amount, score: 100, velocity: { per: instrument, window_seconds: 3600, max_amount: 20000, currency: EUR } }
  - { name: merchant_count, score: 100, velocity: { per: merchant, window_seconds: 10, max_count: 5 } }
)");
    const RiskScorer scorer(policy);
    VelocityBook book;
    auto let_through = [&](const RoutedPayment& p, int64_t at) {
        book.add({at, p.request.amount.value, p.request.amount.currency, p.request.merchant.id, p.request.instrument->fingerprint});
        book.commit();
    };
    const int64_t t0 = 1'000'000'000;
    auto p = card_sale();
    p.request.amount.value = 1000;
    // Three payments of one card inside a minute pass; the fourth is over the count.
    for (int i = 0; i < 3; ++i) {
        auto a = scorer.assess(p, &book, t0 + i * 1000);
        CHECK(a.decision == "approve");
        let_through(p, t0 + i * 1000);
    }
    auto a = scorer.assess(p, &book, t0 + 3000);
    CHECK(a.decision == "decline");
    CHECK(a.rules_hit == std::vector<std::string>{"card_count"});
    // The window slides: 60 s after the first, one slot is free again.
    CHECK(scorer.assess(p, &book, t0 + 60'000).decision == "approve");
    CHECK(scorer.assess(p, &book, t0 + 59'999).decision == "decline");

    // By amount: 3 × 1000 so far; 17 000 more fits exactly, 17 001 does not.
    p.request.amount.value = 17000;
    CHECK(scorer.assess(p, &book, t0 + 120'000).rules_hit.empty());
    p.request.amount.value = 17001;
    CHECK(scorer.assess(p, &book, t0 + 120'000).rules_hit == std::vector<std::string>{"card_amount"});
    // Another currency is not counted against an EUR amount limit.
    p.request.amount = {17001, "USD"};
    CHECK(scorer.assess(p, &book, t0 + 120'000).rules_hit.empty());

    // Another card at the same merchant: the merchant count (5 in 10 s) holds across cards.
    auto q = card_sale();
    q.request.instrument->fingerprint = "fp-2";
    q.request.amount.value = 10;
    const int64_t t1 = t0 + 200'000;
    for (int i = 0; i < 5; ++i) {
        q.request.instrument->fingerprint = "fp-m" + std::to_string(i);
        CHECK(scorer.assess(q, &book, t1).decision == "approve");
        let_through(q, t1);
    }
    q.request.instrument->fingerprint = "fp-new";
    CHECK(scorer.assess(q, &book, t1 + 1).rules_hit == std::vector<std::string>{"merchant_count"});
    q.request.merchant.id = "m-2";
    CHECK(scorer.assess(q, &book, t1 + 1).decision == "approve");

    // Without a book (or for a follow-up) velocity never hits.
    CHECK(scorer.assess(p, nullptr, t0).rules_hit.empty());
}

TEST_CASE("velocity book: abort forgets uncommitted payments, expiry forgets old ones, changelog round trip") {
    VelocityBook book;
    book.add({100, 500, "EUR", "m-1", "fp-1"});
    book.commit();
    book.add({200, 700, "EUR", "m-1", "fp-1"});
    CHECK(book.count(false, "fp-1", 0) == 2);
    book.abort();  // the transaction aborted: the records will be delivered again
    CHECK(book.count(false, "fp-1", 0) == 1);
    CHECK(book.count(true, "m-1", 0) == 1);
    CHECK(book.sum(false, "fp-1", "EUR", 0) == 500);
    book.expire(101);
    CHECK(book.count(false, "fp-1", 0) == 0);
    CHECK(book.keys() == 0);

    const VelocityEntry e{1764150000123, 4200, "EUR", "m-7", "fp-9"};
    VelocityEntry back;
    REQUIRE(decode_velocity_entry(encode_velocity_entry(e), back));
    CHECK(back.at_ms == e.at_ms);
    CHECK(back.amount == e.amount);
    CHECK(back.currency == "EUR");
    CHECK(back.merchant_id == "m-7");
    CHECK(back.fingerprint == "fp-9");
    CHECK_FALSE(decode_velocity_entry("garbage", back));
    CHECK_FALSE(decode_velocity_entry("1|x|EUR|fp|m", back));
    CHECK_FALSE(decode_velocity_entry("1|2|EUR|m", back));  // no fingerprint field
    const VelocityEntry odd{5, 6, "EUR", "m|with|bars", ""};
    REQUIRE(decode_velocity_entry(encode_velocity_entry(odd), back));
    CHECK(back.fingerprint.empty());
    CHECK(back.merchant_id == "m|with|bars");
}

TEST_CASE("risk rules: invalid rules are refused with file:line:column") {
    const std::pair<const char*, const char*> cases[] = {
        {"rules: [{ name: a, velocity: { per: card, window_seconds: 60, max_count: 3 } }]",
         "risk.yaml:1:37: `velocity.per` is instrument or merchant"},
        {"rules: [{ name: a, velocity: { per: instrument, max_count: 3 } }]", "risk.yaml:1:30: `velocity` needs `window_seconds`"},
        {"rules: [{ name: a, velocity: { per: instrument, window_seconds: 60, max_amount: 3 } }]",
         "risk.yaml:1:30: `velocity.max_amount` needs `currency`"},
        {"rules: [{ name: a, velocity: { per: instrument, window_seconds: 999999, max_count: 3 } }]",
         "risk.yaml:1:65: `velocity.window_seconds` must be between 1 and 86400"},
        {"rules: [{ name: a, block: {} }]", "risk.yaml:1:27: `block` needs at least one of"},
        {"rules: [{ name: a, block: { bin: [\"41\"] } }]", "risk.yaml:1:35: expected a BIN as 6 digits"},
        {"rules: [{ name: a, amount_limit: { currency: EUR } }]", "risk.yaml:1:34: `amount_limit` needs `max`"},
        {"rules: [{ name: Bad-Name, amount_limit: { max: 1 } }]", "risk.yaml:1:17: a risk rule name is lower-case"},
        {"rules: [{ name: a, amount_limit: { max: 1 }, block: { bin: \"411111\" } }]", "risk.yaml:1:9: a risk rule needs exactly one of"},
        {"ip_countries: [{ cidr: 10.0.0.0/33, country: DE }]", "risk.yaml:1:24: expected an IPv4 CIDR"},
        {"ip_countries: [{ cidr: 10.0.0.0.1/8, country: DE }]", "risk.yaml:1:24: expected an IPv4 CIDR"},
        {"ip_countries: [{ cidr: 10.0.0/8, country: DE }]", "risk.yaml:1:24: expected an IPv4 CIDR"},
        {"ip_countries: [{ cidr: 10.0.0.0, country: DE }]", "risk.yaml:1:24: expected an IPv4 CIDR"},
        {"card_countries: [{ bins: \"400000-300000\", country: DE }]", "risk.yaml:1:26: expected a BIN as 6 digits or a range"},
        {"decline_score: 100\nreview_score: 100", "risk.yaml:2:15: `risk.review_score` must be below"},
        {"rules: [{ name: a, country_mismatch: { strict: true } }]", "risk.yaml:1:38: `country_mismatch` takes no settings"},
    };
    for (const auto& [yaml, error] : cases) {
        CAPTURE(std::string(yaml));
        std::string what;
        try {
            parse_risk_rules(YAML::Load(yaml), "risk.yaml");
        } catch (const ConfigError& e) {
            what = e.what();
        }
        CHECK(what.rfind(error, 0) == 0);
        if (what.rfind(error, 0) != 0) MESSAGE(what);
    }
}
