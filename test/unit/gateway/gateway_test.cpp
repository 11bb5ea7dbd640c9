// The gateway's decisions without HTTP or Kafka: API keys, rate limits, the POST decision
// table, and idempotency (coalescing, conflicts, answers from stored payments).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "gateway/api_keys.hpp"
#include "gateway/idempotency.hpp"
#include "gateway/post_decision.hpp"
#include "gateway/rate_limiter.hpp"
#include "model/time.hpp"

using namespace turnout;
using namespace turnout::gateway;

namespace {
const std::string kKeyA = "tk_key_of_merchant_a";
const std::string kKeyB = "tk_key_of_merchant_b";

ApiKeys two_keys() {
    return ApiKeys({{"m-a", sha256_hex_of(kKeyA)}, {"m-b", sha256_hex_of(kKeyB)}});
}

PaymentRequest a_sale(const std::string& id = "p-1", const std::string& merchant = "m-a", int64_t amount = 1000) {
    PaymentRequest r;
    r.payment_id = id;
    r.type = PaymentType::sale;
    r.merchant = {merchant, "5411", "DE"};
    r.amount = {amount, "EUR"};
    Instrument in;
    in.kind = InstrumentKind::card;
    in.pan = "4111111111111111";
    in.expiry = "2912";
    r.instrument = in;
    r.created_at_ms = 1'700'000'000'000;
    return r;
}

PostAccepted accepted(const PaymentRequest& r) {
    const auto body = encode_request(r);
    return {r, r.merchant.id, sha256_hex_of(body)};
}
}  // namespace

TEST_CASE("gateway api keys file: parsing") {
    const auto d = sha256_hex_of("k");
    struct Case {
        std::string text;
        size_t entries;
        std::string error;  // a part of the error, empty = none
    };
    const std::vector<Case> cases{
        {"", 0, ""},
        {"# only a comment\n\n   \n", 0, ""},
        {"m-a " + d + "\n", 1, ""},
        {"m-a\t" + d + "   # trailing comment\r\n", 1, ""},
        {"m-a " + d, 1, ""},  // no final line break
        {"m-a", 0, "line 1: expected"},
        {"# c\nm-a deadbeef\n", 0, "line 2: expected the key's SHA-256"},
        {"m-a " + d + "\nm-b " + d + "\n", 0, "line 2: a key listed twice"},
        {"m-a " + d.substr(0, 63) + "g\n", 0, "64 hex digits"},
        {std::string(65, 'm') + " " + d + "\n", 0, "longer than 64"},
        {"m\x01x " + d + "\n", 0, "control character"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto p = parse_api_keys(c.text);
        CHECK(p.entries.size() == c.entries);
        if (c.error.empty()) CHECK(p.error.empty());
        else CHECK(p.error.find(c.error) != std::string::npos);
    }
    // Upper-case digests are read as the same key.
    auto upper = d;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const auto p = parse_api_keys("m-a " + upper + "\n");
    REQUIRE(p.entries.size() == 1);
    CHECK(ApiKeys(p.entries).verify("k") == std::optional<std::string>("m-a"));
}

TEST_CASE("gateway api keys: verification and the Authorization header") {
    const auto keys = two_keys();
    CHECK(keys.verify(kKeyA) == std::optional<std::string>("m-a"));
    CHECK(keys.verify(kKeyB) == std::optional<std::string>("m-b"));
    CHECK_FALSE(keys.verify(""));
    CHECK_FALSE(keys.verify(kKeyA + "x"));
    CHECK_FALSE(keys.verify(sha256_hex_of(kKeyA)));  // the digest is not the key

    struct Case {
        std::string header;
        std::optional<std::string> key;
    };
    const std::vector<Case> cases{
        {"Bearer abc", "abc"},     {"bearer abc", "abc"}, {"Bearer   abc  ", "abc"}, {"Basic abc", std::nullopt},
        {"Bearer ", std::nullopt}, {"abc", std::nullopt}, {"", std::nullopt},
        {"Bearer " + std::string(300, 'k'), std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.header);
        auto t = bearer_token(c.header);
        CHECK(t.has_value() == c.key.has_value());
        if (t && c.key) CHECK(std::string(*t) == *c.key);
    }

    // A new key verifies against the line made for it, and keys differ.
    const auto k1 = make_api_key("m-new"), k2 = make_api_key("m-new");
    CHECK(k1.key != k2.key);
    CHECK(k1.key.rfind("tk_", 0) == 0);
    CHECK(k1.key.size() == 3 + 43);
    const auto parsed = parse_api_keys(k1.line + "\n");
    REQUIRE(parsed.error.empty());
    CHECK(ApiKeys(parsed.entries).verify(k1.key) == std::optional<std::string>("m-new"));
    CHECK_FALSE(ApiKeys(parsed.entries).verify(k2.key));

    // The shipped file loads and holds the documented demo key.
    const auto shipped = ApiKeys::load(std::string(TURNOUT_SOURCE_DIR) + "/config/gateway-keys.txt");
    CHECK(shipped.verify("tk_demo_m-demo_not_for_production") == std::optional<std::string>("m-demo"));
}

TEST_CASE("gateway rate limiter: burst, refill and Retry-After, per merchant") {
    RateLimiter rl(2, 3);  // 2 a second, 3 at once
    const int64_t t0 = 1'000'000;
    for (int i = 0; i < 3; ++i) CHECK(rl.take("m-a", t0).allowed);
    auto v = rl.take("m-a", t0);
    CHECK_FALSE(v.allowed);
    CHECK(v.retry_after_s == 1);
    CHECK(rl.take("m-b", t0).allowed);  // another merchant has its own bucket
    CHECK_FALSE(rl.take("m-a", t0 + 400).allowed);  // 0.8 of a token
    CHECK(rl.take("m-a", t0 + 500).allowed);        // 1 token back
    CHECK_FALSE(rl.take("m-a", t0 + 500).allowed);
    // A long pause refills to the burst, not beyond.
    for (int i = 0; i < 3; ++i) CHECK(rl.take("m-a", t0 + 100'000).allowed);
    CHECK_FALSE(rl.take("m-a", t0 + 100'000).allowed);

    RateLimiter slow(0.1, 1);  // one every 10 s
    CHECK(slow.take("m", t0).allowed);
    CHECK(slow.take("m", t0).retry_after_s == 10);

    RateLimiter bounded(1, 1, 2);
    for (int i = 0; i < 10; ++i) bounded.take("m" + std::to_string(i), t0 + i * 10'000);
    CHECK(bounded.tracked() <= 3);
}

TEST_CASE("gateway POST decision table") {
    const auto keys = two_keys();
    const auto good = encode_request(a_sale("p-1", "m-a"));
    const auto other_merchant = encode_request(a_sale("p-1", "m-b"));
    auto bad_amount = good;
    bad_amount.replace(bad_amount.find("\"value\":1000"), 12, "\"value\":-5");
    const std::string auth_a = "Bearer " + kKeyA;
    const std::string json = "application/json";
    struct Case {
        const char* name;
        std::optional<std::string> authorization, content_type, idempotency_key;
        std::string body;
        bool too_large;
        int status;  // 0 = accepted
        std::string code;
    };
    const std::vector<Case> cases{
        {"accepted", auth_a, json, "p-1", good, false, 0, ""},
        {"charset parameter", auth_a, "Application/JSON; charset=utf-8", "p-1", good, false, 0, ""},
        {"no Authorization", std::nullopt, json, "p-1", good, false, 401, "unauthorized"},
        {"unknown key", "Bearer nope", json, "p-1", good, false, 401, "unauthorized"},
        {"not Bearer", "Basic " + kKeyA, json, "p-1", good, false, 401, "unauthorized"},
        {"unauthorized before too large", "Bearer nope", json, "p-1", "", true, 401, "unauthorized"},
        {"too large", auth_a, json, "p-1", "", true, 413, "too_large"},
        {"over the limit though read", auth_a, json, "p-1", std::string(70000, ' '), false, 413, "too_large"},
        {"no Content-Type", auth_a, std::nullopt, "p-1", good, false, 415, "unsupported_media_type"},
        {"text/plain", auth_a, "text/plain", "p-1", good, false, 415, "unsupported_media_type"},
        {"no Idempotency-Key", auth_a, json, std::nullopt, good, false, 400, "missing_idempotency_key"},
        {"empty Idempotency-Key", auth_a, json, "", good, false, 400, "missing_idempotency_key"},
        {"not JSON", auth_a, json, "p-1", "{nope", false, 400, "invalid_json"},
        {"decoder rule", auth_a, json, "p-1", bad_amount, false, 400, "amount_out_of_range"},
        {"key ≠ payment_id", auth_a, json, "p-2", good, false, 400, "idempotency_key_mismatch"},
        {"another merchant's body", auth_a, json, "p-1", other_merchant, false, 403, "merchant_mismatch"},
        {"merchant B's own body", "Bearer " + kKeyB, json, "p-1", other_merchant, false, 0, ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        RateLimiter rl(100, 100);
        PostInput in;
        if (c.authorization) in.authorization = *c.authorization;
        if (c.content_type) in.content_type = *c.content_type;
        if (c.idempotency_key) in.idempotency_key = *c.idempotency_key;
        in.body = c.body;
        in.body_too_large = c.too_large;
        const auto d = decide_post(in, keys, rl, 0, 65536);
        if (c.status == 0) {
            REQUIRE(d.accepted);
            CHECK_FALSE(d.error);
            CHECK(d.accepted->request.payment_id == "p-1");
            CHECK(d.accepted->merchant_id == d.accepted->request.merchant.id);
            CHECK(d.accepted->body_sha256 == sha256_hex_of(c.body));
        } else {
            REQUIRE(d.error);
            CHECK_FALSE(d.accepted);
            CHECK(d.error->status == c.status);
            CHECK(d.error->code == c.code);
        }
    }
    // The rate limit applies after authentication, per merchant, before the body is looked at.
    RateLimiter rl(1, 2);
    PostInput in{auth_a, json, "p-1", good, false};
    CHECK(decide_post(in, keys, rl, 0, 65536).accepted);
    PostInput garbage{auth_a, json, "p-1", "{nope", false};
    CHECK(decide_post(garbage, keys, rl, 0, 65536).error->code == "invalid_json");
    const auto limited = decide_post(in, keys, rl, 0, 65536);
    REQUIRE(limited.error);
    CHECK(limited.error->status == 429);
    CHECK(limited.error->code == "rate_limited");
    CHECK(limited.error->retry_after_s == 1);
    const std::string auth_b = "Bearer " + kKeyB;
    PostInput b{auth_b, json, "p-1", other_merchant, false};
    CHECK(decide_post(b, keys, rl, 0, 65536).accepted);
    PostInput nobody{std::nullopt, json, "p-1", good, false};
    CHECK(decide_post(nobody, keys, rl, 0, 65536).error->status == 401);  // not 429: no merchant to count
}

TEST_CASE("gateway: a stored payment compared with a request") {
    const auto req = a_sale("p-1", "m-a", 1000);
    PaymentResult res;
    res.payment_id = "p-1";
    res.root_id = "p-1";
    res.type = PaymentType::sale;
    res.status = ResultStatus::approved;
    res.amount = Money{1000, "EUR"};
    res.merchant_id = "m-a";
    CHECK(compare_stored(req, res) == Sameness::same);
    auto r2 = res;
    r2.amount = Money{999, "EUR"};
    CHECK(compare_stored(req, r2) == Sameness::different);
    r2 = res;
    r2.amount = Money{1000, "USD"};
    CHECK(compare_stored(req, r2) == Sameness::different);
    r2 = res;
    r2.type = PaymentType::authorize;
    CHECK(compare_stored(req, r2) == Sameness::different);
    r2 = res;
    r2.merchant_id = "m-b";
    CHECK(compare_stored(req, r2) == Sameness::different);
    r2 = make_rejected_result("p-1", "p-1", {"original_unknown", "x"}, 0);
    r2.merchant_id.clear();
    CHECK(compare_stored(req, r2) == Sameness::unknown);

    PaymentLifeCycle lc;
    lc.root_id = "p-1";
    lc.kind = PaymentType::sale;
    lc.original_status = ResultStatus::approved;
    lc.merchant_id = "m-a";
    lc.currency = "EUR";
    lc.amount = 1000;
    CHECK(compare_stored(req, lc) == Sameness::same);
    auto l2 = lc;
    l2.amount = 2000;
    CHECK(compare_stored(req, l2) == Sameness::different);
    l2 = lc;
    l2.kind = PaymentType::authorize;
    CHECK(compare_stored(req, l2) == Sameness::different);
    l2 = lc;
    l2.merchant_id = "m-b";
    CHECK(compare_stored(req, l2) == Sameness::different);
    l2 = lc;
    l2.currency = "USD";
    CHECK(compare_stored(req, l2) == Sameness::different);

    // A follow-up is found in its original's history.
    PaymentRequest refund = req;
    refund.payment_id = "p-1-r";
    refund.type = PaymentType::refund;
    refund.amount = {300, "EUR"};
    refund.instrument.reset();
    refund.original = OriginalRef{"p-1", "acq-eu", "ref"};
    CHECK(compare_stored(refund, lc) == Sameness::unknown);
    LifeCycleEvent ev;
    ev.payment_id = "p-1-r";
    ev.type = PaymentType::refund;
    ev.status = ResultStatus::approved;
    ev.amount = 300;
    lc.history.push_back(ev);
    CHECK(compare_stored(refund, lc) == Sameness::same);
    refund.amount.value = 301;
    CHECK(compare_stored(refund, lc) == Sameness::different);
}

TEST_CASE("gateway idempotency book: one publish per key, joins, conflicts, answers") {
    IdempotencyBook book;
    std::vector<Signal> got;
    auto waiter = [&](const Signal& s) { got.push_back(s); };
    const auto p1 = accepted(a_sale("p-1"));
    const auto p1_other_body = accepted(a_sale("p-1", "m-a", 2000));

    const auto first = book.admit(p1, 0, waiter);
    CHECK(first.what == Admission::publish);
    for (int i = 0; i < 49; ++i) CHECK(book.admit(p1, 1, waiter).what == Admission::join);
    CHECK(book.waiting() == 50);
    CHECK(book.admit(p1_other_body, 2, waiter).what == Admission::conflict);
    CHECK_FALSE(book.delivered("p-1"));
    book.on_delivered("p-1");
    CHECK(book.delivered("p-1"));

    // A duplicate answer tells every waiter and keeps them.
    CHECK(book.on_duplicate("p-1").size() == 50);
    CHECK(book.waiting() == 50);

    // The final result goes to all 50 and is cached for later repeats.
    PaymentResult res = make_rejected_result("p-1", "p-1", {}, 0);
    res.status = ResultStatus::approved;
    res.type = PaymentType::sale;
    res.amount = Money{1000, "EUR"};
    res.merchant_id = "m-a";
    for (auto& w : book.on_result(res, "{\"result\":1}", 10)) w({Signal::result, "{\"result\":1}"});
    CHECK(got.size() == 50);
    CHECK(book.waiting() == 0);
    const auto again = book.admit(p1, 20, waiter);
    CHECK(again.what == Admission::answered);
    CHECK(again.json == "{\"result\":1}");
    CHECK(book.admit(p1_other_body, 20, waiter).what == Admission::conflict);

    // A key first seen after its result (another gateway published it): answered when the
    // body describes the same payment, a conflict otherwise.
    IdempotencyBook fresh;
    fresh.on_result(res, "{\"result\":1}", 10);
    CHECK(fresh.admit(p1_other_body, 11, waiter).what == Admission::conflict);
    CHECK(fresh.admit(p1, 12, waiter).what == Admission::answered);

    // Cached results expire.
    IdempotencyBook shortlived(BookLimits{10, 10, 1000});
    shortlived.on_result(res, "{}", 0);
    CHECK(shortlived.cached("p-1", 500));
    CHECK_FALSE(shortlived.cached("p-1", 1500));
    CHECK(shortlived.admit(p1, 1500, waiter).what == Admission::publish);
}

TEST_CASE("gateway idempotency book: a failed publish frees the key; waiters leave; bounds") {
    IdempotencyBook book(BookLimits{3, 3, 60000});
    int failed = 0;
    auto waiter = [&](const Signal& s) { failed += s.kind == Signal::failed; };
    const auto p1 = accepted(a_sale("p-1"));
    const auto a = book.admit(p1, 0, waiter);
    const auto b = book.admit(p1, 0, waiter);
    for (auto& w : book.on_publish_failed("p-1")) w({Signal::failed, {}});
    CHECK(failed == 2);
    CHECK(book.admit(p1, 1, waiter).what == Admission::publish);  // a retry publishes again
    (void)a;
    (void)b;

    const auto j = book.admit(p1, 2, waiter);
    CHECK(book.waiting() == 2);
    book.leave("p-1", j.waiter);
    CHECK(book.waiting() == 1);

    // At most max_keys keys once nobody waits on them; a key with a waiter is kept.
    for (int i = 2; i <= 10; ++i) {
        const auto k = book.admit(accepted(a_sale("p-" + std::to_string(i))), 3, waiter);
        book.leave("p-" + std::to_string(i), k.waiter);
    }
    CHECK(book.keys() <= 3);
    CHECK(book.admit(accepted(a_sale("p-1", "m-a", 5)), 4, waiter).what == Admission::conflict);  // still held

    PaymentResult r = make_rejected_result("x", "x", {}, 0);
    for (int i = 0; i < 10; ++i) {
        r.payment_id = "x" + std::to_string(i);
        book.on_result(r, "{}", i);
    }
    CHECK(book.results() <= 3);
    CHECK(book.cached("x9", 10));
    CHECK_FALSE(book.cached("x0", 10));
}
