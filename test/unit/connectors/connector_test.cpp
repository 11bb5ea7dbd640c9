// The simulator connector's outcomes, by amount ending.
#include <doctest/doctest.h>

#include "connector.hpp"

using namespace turnout;

TEST_CASE("simulator: outcome by amount, failover only on the first channel, follow-ups approved") {
    const auto cfg = parse_config(R"(kafka: {bootstrap_servers: x, topics: {}}
security: {keys_file: k}
router: {routes: [{name: r, plan: [sim]}]}
risk: {}
channels: [{id: sim, kind: simulator, latency_ms: 0}]
)",
                                  "t.yaml");
    auto conn = make_connector(cfg.channels[0]);
    using K = ChannelOutcome::Kind;
    struct Case {
        PaymentType type;
        int64_t amount;
        bool retried;
        K kind;
        const char* code;
    };
    const Case cases[] = {
        {PaymentType::sale, 1000, false, K::approved, "00"},  {PaymentType::sale, 1051, false, K::declined, "51"},
        {PaymentType::sale, 1005, false, K::declined, "05"},  {PaymentType::sale, 1091, true, K::soft_failure, "91"},
        {PaymentType::sale, 1096, false, K::soft_failure, "96"}, {PaymentType::sale, 1096, true, K::approved, "00"},
        {PaymentType::capture, 1051, false, K::approved, "00"},
    };
    std::vector<RoutedPayment> batch;
    for (const auto& c : cases) {
        RoutedPayment p;
        p.request.payment_id = "p" + std::to_string(batch.size());
        p.request.type = c.type;
        p.request.amount = {c.amount, "EUR"};
        if (c.retried) p.route.attempts.push_back({"other", "soft_failure", "96"});
        batch.push_back(p);
    }
    const auto out = conn->call(batch);
    REQUIRE(out.size() == batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        CAPTURE(i);
        CHECK(out[i].kind == cases[i].kind);
        CHECK(out[i].code == cases[i].code);
        if (out[i].kind == K::approved) CHECK(!out[i].channel_ref.empty());
    }
    // The same payment gets the same reference: a retry is idempotent at the channel.
    CHECK(conn->call(std::span(batch).first(1))[0].channel_ref == out[0].channel_ref);
}

#include <filesystem>
#include <fstream>

#include "simulator/ledger.hpp"

TEST_CASE("channel ledger: a payment is executed once, across processes sharing the file") {
    const auto path = std::filesystem::temp_directory_path() / "turnout-ledger-test.log";
    std::filesystem::remove(path);
    std::vector<RoutedPayment> batch(3);
    for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].request.payment_id = "p" + std::to_string(i);
        batch[i].request.amount = {i == 2 ? 1091 : 1000, "EUR"};
    }
    int executions = 0;
    auto decide = [&](const RoutedPayment& p) {
        ++executions;
        using K = ChannelOutcome::Kind;
        if (p.request.amount.value % 100 == 91) return ChannelOutcome{K::soft_failure, "91", "down", "", ""};
        return ChannelOutcome{K::approved, "00", "ok", "ref-" + p.request.payment_id, "A1"};
    };
    ChannelLedger first(path.string()), second(path.string());
    size_t replayed = 0;
    auto a = first.execute(batch, decide, replayed);
    CHECK(executions == 3);
    CHECK(replayed == 0);
    // Another process (second) retries the same payments: answered from the ledger, except
    // the soft failure, which never took effect and may be tried again.
    auto b = second.execute(batch, decide, replayed);
    CHECK(executions == 4);
    CHECK(replayed == 2);
    CHECK(b[0].channel_ref == a[0].channel_ref);
    CHECK(b[1].approval_code == "A1");
    std::ifstream f(path);
    int lines = 0;
    for (std::string l; std::getline(f, l);) ++lines;
    CHECK(lines == 2);
    std::filesystem::remove(path);
}

#include "circuit_breaker.hpp"

TEST_CASE("circuit breaker: opens on consecutive failures, probes half-open, closes on success") {
    CircuitBreaker cb({3, 1000});
    using S = CircuitBreaker::State;
    struct Step {
        int64_t at;
        const char* action;  // "ok", "fail", "allow?"
        bool allowed;
        S state;
    };
    const Step steps[] = {
        {0, "fail", true, S::closed},      {1, "fail", true, S::closed},     {2, "ok", true, S::closed},
        {3, "fail", true, S::closed},      {4, "fail", true, S::closed},     {5, "fail", true, S::open},
        {500, "allow?", false, S::open},   {1004, "allow?", false, S::open}, {1005, "allow?", true, S::half_open},
        {1006, "fail", true, S::open},     {1500, "allow?", false, S::open}, {2006, "allow?", true, S::half_open},
        {2007, "ok", true, S::closed},     {2008, "allow?", true, S::closed},
    };
    for (const auto& s : steps) {
        CAPTURE(s.at);
        if (std::string(s.action) == "allow?")
            CHECK(cb.allow(s.at) == s.allowed);
        else
            cb.record(std::string(s.action) == "ok", s.at);
        CHECK(cb.state() == s.state);
    }
}
