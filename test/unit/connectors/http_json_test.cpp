// The http_json channel's pure parts: webhook/request signatures, the PSP protocol mapping,
// the pending book and its records.
#include <doctest/doctest.h>

#include "http_json/psp_protocol.hpp"
#include "http_json/settings.hpp"
#include "http_json/signature.hpp"
#include "pending_book.hpp"

using namespace turnout;
using namespace turnout::psp;

TEST_CASE("webhook signature: valid, wrong key, tampered body, outside the window, replayed, malformed") {
    const std::string key = "webhook-key-0123456789", other = "another-key-0123456789";
    const WebhookKeys keys{{key}};
    const int64_t now = 1'790'000'000'000;
    const std::string body = R"({"event_id":"evt_1","type":"payment.updated","payment":{"payment_id":"p1","status":"approved"}})";
    const auto ts = std::to_string(now - 1000);
    struct Case {
        const char* name;
        std::string ts, sig, body;
        int64_t now;
        WebhookCheck want;
    };
    const Case cases[] = {
        {"valid", ts, sign(key, ts, body), body, now, WebhookCheck::ok},
        {"valid, second of two signatures (rotation)", ts, sign(other, ts, body) + "," + sign(key, ts, body), body, now,
         WebhookCheck::ok},
        {"wrong key", ts, sign(other, ts, body), body, now, WebhookCheck::bad_signature},
        {"tampered body", ts, sign(key, ts, body), R"({"event_id":"evt_1","payment":{"payment_id":"p1","status":"declined"}})",
         now, WebhookCheck::bad_signature},
        {"timestamp changed after signing", std::to_string(now - 999), sign(key, ts, body), body, now,
         WebhookCheck::bad_signature},
        {"too old", ts, sign(key, ts, body), body, now + 301'000, WebhookCheck::outside_window},
        {"from the future", ts, sign(key, ts, body), body, now - 302'000, WebhookCheck::outside_window},
        {"no signature", ts, "", body, now, WebhookCheck::missing_signature},
        {"no timestamp", "", sign(key, ts, body), body, now, WebhookCheck::missing_signature},
        {"timestamp not a number", "12ab", sign(key, "12ab", body), body, now, WebhookCheck::bad_timestamp},
        {"truncated signature", ts, sign(key, ts, body).substr(0, 20), body, now, WebhookCheck::bad_signature},
        {"signed but no event_id", ts, sign(key, ts, "{}"), "{}", now, WebhookCheck::malformed_body},
        {"signed but not JSON", ts, sign(key, ts, "nope"), "nope", now, WebhookCheck::malformed_body},
    };
    for (const auto& c : cases) {
        ReplayCache cache(300'000);
        CAPTURE(c.name);
        CHECK(verify_webhook(keys, c.ts, c.sig, c.body, c.now, cache) == c.want);
    }

    // Replays: the same bytes twice are refused; a redelivery signed afresh passes.
    ReplayCache cache(300'000);
    std::string event_id;
    CHECK(verify_webhook(keys, ts, sign(key, ts, body), body, now, cache, &event_id) == WebhookCheck::ok);
    CHECK(event_id == "evt_1");
    CHECK(verify_webhook(keys, ts, sign(key, ts, body), body, now + 10, cache) == WebhookCheck::replayed);
    const auto ts2 = std::to_string(now + 500);
    CHECK(verify_webhook(keys, ts2, sign(key, ts2, body), body, now + 600, cache) == WebhookCheck::ok);
    // A delivery that could not be recorded is forgotten, so the sender's retry passes.
    cache.forget("evt_1@" + ts2);
    CHECK(verify_webhook(keys, ts2, sign(key, ts2, body), body, now + 700, cache) == WebhookCheck::ok);
    // A recorded webhook read back later: the signature alone, whatever its age.
    CHECK(verify_signature({{key}}, "1000", sign(key, "1000", body), body) == WebhookCheck::ok);
    CHECK(verify_signature({{key}}, "1000", sign(key, "1000", body), body + " ") == WebhookCheck::bad_signature);
    CHECK(verify_signature({{key}}, "1000", sign("another key of 16+", "1000", body), body) == WebhookCheck::bad_signature);
    CHECK(verify_signature({{key}}, "", "", body) == WebhookCheck::missing_signature);
    // Requests (PSP side) are checked without replay state.
    CHECK(verify_signed({{key}}, ts, sign(key, ts, ""), "", now, 300'000) == WebhookCheck::ok);
    CHECK(verify_signed({{key}}, ts, sign(key, ts, ""), "x", now, 300'000) == WebhookCheck::bad_signature);
}

TEST_CASE("PSP answers map to outcomes: only a request never received fails over, unclear answers are unknown") {
    using K = ChannelOutcome::Kind;
    struct Case {
        const char* name;
        bool query;
        int status;
        const char* body;
        K kind;
        const char* code;
    };
    const Case cases[] = {
        {"approved", false, 200, R"({"id":"psp_1","status":"approved","code":"approved","approval_code":"a1"})", K::approved, "approved"},
        {"declined", false, 200, R"({"id":"psp_1","status":"declined","code":"insufficient_funds"})", K::declined, "insufficient_funds"},
        {"pending", false, 202, R"({"id":"psp_1","status":"pending"})", K::pending, "pending"},
        {"2xx unreadable = unknown", false, 200, "<html>", K::failed, "unknown_outcome"},
        {"2xx unknown status = unknown", false, 201, R"({"status":"maybe"})", K::failed, "unknown_outcome"},
        {"500 = unknown", false, 500, "{}", K::failed, "unknown_outcome"},
        {"502 from a gateway = unknown", false, 502, "<html>bad gateway</html>", K::failed, "unknown_outcome"},
        {"503 = unknown", false, 503, "", K::failed, "unknown_outcome"},
        {"504 from a gateway = unknown", false, 504, "", K::failed, "unknown_outcome"},
        {"409 key in use = unknown", false, 409, R"({"error":"idempotency key in use"})", K::failed, "unknown_outcome"},
        {"429 rate limited = unknown", false, 429, "", K::failed, "unknown_outcome"},
        {"408 = unknown", false, 408, "", K::failed, "unknown_outcome"},
        {"422 refused, not executed", false, 422, "{}", K::failed, "http_422"},
        {"401 refused, not executed", false, 401, "{}", K::failed, "http_401"},
        {"302 = unknown", false, 302, "", K::failed, "unknown_outcome"},
        {"query approved", true, 200, R"({"id":"psp_1","status":"approved"})", K::approved, "approved"},
        {"query still pending", true, 200, R"({"id":"psp_1","status":"pending"})", K::pending, "pending"},
        {"query 404 = unknown (maybe not yet recorded)", true, 404, "", K::failed, "unknown_outcome"},
        {"query 503 = still unknown", true, 503, "", K::failed, "unknown_outcome"},
        {"query unreadable = still unknown", true, 200, "{", K::failed, "unknown_outcome"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto o = c.query ? outcome_of_status_answer(c.status, c.body) : outcome_of_payment_answer(c.status, c.body);
        CHECK(o.kind == c.kind);
        CHECK(o.code == c.code);
        // Nothing the PSP answered lets the payment move to another channel.
        CHECK(o.kind != K::soft_failure);
    }
    const auto a = outcome_of_payment_answer(200, R"({"id":"psp_9","status":"approved","approval_code":"x7"})");
    CHECK(a.channel_ref == "psp_9");
    CHECK(a.approval_code == "x7");
}

TEST_CASE("PSP exchange classification: each call and delivery → approved / declined / soft failure / unknown / ...") {
    using V = Verdict;
    using D = Delivery;
    using C = PspCall;
    using K = ChannelOutcome::Kind;
    const char* approved = R"({"id":"psp_1","status":"approved"})";
    const char* declined = R"({"id":"psp_1","status":"declined","code":"do_not_honor"})";
    const char* pending = R"({"id":"psp_1","status":"pending"})";
    const char* cancelled = R"({"id":"psp_1","status":"cancelled"})";
    struct Case {
        C call;
        D delivery;
        int status;
        const char* body;
        V verdict;
        K kind;
        const char* code;
    };
    const Case cases[] = {
        // POST /v1/payments
        {C::payment, D::not_sent, 0, "", V::soft_failure, K::soft_failure, "not_received"},
        {C::payment, D::no_answer, 0, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 200, approved, V::approved, K::approved, "approved"},
        {C::payment, D::answered, 200, declined, V::declined, K::declined, "do_not_honor"},
        {C::payment, D::answered, 202, pending, V::pending, K::pending, "pending"},
        {C::payment, D::answered, 200, cancelled, V::cancelled, K::reversed, "cancelled"},
        {C::payment, D::answered, 200, "not json", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 409, "{}", V::retry, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 429, "", V::retry, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 400, "{}", V::refused, K::failed, "http_400"},
        {C::payment, D::answered, 404, "{}", V::refused, K::failed, "http_404"},
        {C::payment, D::answered, 408, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 425, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 500, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 502, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 503, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 504, "", V::unknown, K::failed, "unknown_outcome"},
        {C::payment, D::answered, 100, "", V::unknown, K::failed, "unknown_outcome"},
        // GET /v1/payments/<id>
        {C::status_query, D::not_sent, 0, "", V::unknown, K::failed, "unknown_outcome"},
        {C::status_query, D::no_answer, 0, "", V::unknown, K::failed, "unknown_outcome"},
        {C::status_query, D::answered, 200, approved, V::approved, K::approved, "approved"},
        {C::status_query, D::answered, 200, pending, V::pending, K::pending, "pending"},
        {C::status_query, D::answered, 404, "", V::unknown, K::failed, "unknown_outcome"},
        {C::status_query, D::answered, 409, "", V::unknown, K::failed, "unknown_outcome"},
        {C::status_query, D::answered, 500, "", V::unknown, K::failed, "unknown_outcome"},
        // POST /v1/payments/<id>/cancel
        {C::cancel, D::answered, 200, cancelled, V::cancelled, K::reversed, "cancelled"},
        {C::cancel, D::answered, 200, approved, V::approved, K::approved, "approved"},
        {C::cancel, D::answered, 200, declined, V::declined, K::declined, "do_not_honor"},
        {C::cancel, D::answered, 200, pending, V::unknown, K::failed, "unknown_outcome"},
        {C::cancel, D::answered, 404, "", V::cancelled, K::reversed, "original_not_found"},
        {C::cancel, D::answered, 409, "", V::unknown, K::failed, "unknown_outcome"},
        {C::cancel, D::not_sent, 0, "", V::unknown, K::failed, "unknown_outcome"},
        {C::cancel, D::no_answer, 0, "", V::unknown, K::failed, "unknown_outcome"},
    };
    for (const auto& c : cases) {
        CAPTURE(static_cast<int>(c.call));
        CAPTURE(static_cast<int>(c.delivery));
        CAPTURE(c.status);
        const auto r = classify_answer(c.call, c.delivery, c.status, c.body, "connect: refused");
        CHECK(std::string(to_string(r.verdict)) == to_string(c.verdict));
        CHECK(r.outcome.kind == c.kind);
        CHECK(r.outcome.code == c.code);
        // Only a payment request that never reached the PSP may fail over.
        CHECK((r.outcome.kind == K::soft_failure) == (c.call == C::payment && c.delivery == D::not_sent));
    }
}

TEST_CASE("PSP request body carries no card data; webhooks round-trip with the root id") {
    RoutedPayment p;
    p.request.payment_id = "cap-1";
    p.request.type = PaymentType::capture;
    p.request.amount = {1250, "EUR"};
    p.request.merchant.id = "m-1";
    p.request.original = OriginalRef{"auth-1", "psp-global", "psp_abc"};
    Instrument in;
    in.kind = InstrumentKind::card;
    in.pan = "4111111111111111";
    in.fingerprint = "fp";
    in.last4 = "1111";
    p.request.instrument = in;
    const auto body = payment_body(p, "http://127.0.0.1:1/webhooks/x");
    CHECK(body.find("4111111111111111") == std::string::npos);
    CHECK(body.find(R"("root_id":"auth-1")") != std::string::npos);
    CHECK(body.find(R"("value":1250)") != std::string::npos);

    PspPayment pay{"cap-1", "auth-1", "declined", "do_not_honor", "do not honor", "psp_1", ""};
    const auto ev = parse_webhook(webhook_json("evt_9", pay));
    REQUIRE(ev);
    CHECK(ev->event_id == "evt_9");
    CHECK(ev->root_id == "auth-1");
    CHECK(ev->outcome.kind == ChannelOutcome::Kind::declined);
    CHECK(ev->outcome.code == "do_not_honor");
    CHECK_FALSE(parse_webhook(R"({"event_id":"e","payment":{"status":"approved"}})"));
}

TEST_CASE("pending book: abort undoes adds and removals since the last commit; records round-trip") {
    PendingBook book;
    RoutedPayment p;
    p.request.payment_id = "w-1";
    p.request.amount = {700, "GBP"};
    p.route.channels = {"psp-global"};
    book.add("w-1", {p, 2, 1000, 31000, "psp_1", ""});
    book.commit();
    book.add("w-2", {p, 3, 1000, 31000, "psp_2", ""});
    CHECK(book.take("w-1"));
    CHECK_FALSE(book.take("w-1"));
    book.abort();
    CHECK(book.contains("w-1"));
    CHECK_FALSE(book.contains("w-2"));
    CHECK(book.due(30999, 10).empty());
    CHECK(book.due(31000, 10) == std::vector<std::string>{"w-1"});
    book.drop_partition(2);
    CHECK(book.size() == 0);

    PendingPayment pp{p, 4, 1234, 0, "psp_7", "00-abc-def-01"};
    const auto back = decode_pending(encode_pending(pp, "psp-global"), 4);
    REQUIRE(back);
    CHECK(back->payment.request.payment_id == "w-1");
    CHECK(back->payment.request.amount.value == 700);
    CHECK(back->since_ms == 1234);
    CHECK(back->channel_ref == "psp_7");
    CHECK(back->traceparent == "00-abc-def-01");

    ChannelEvent e{"evt_1", "w-1", "w-1", {ChannelOutcome::Kind::approved, "approved", "ok", "psp_7", "a1"}};
    e.origin = R"({"event_id":"evt_1"})";
    e.origin_auth = {{kTimestampHeader, "123"}, {kSignatureHeader, "v1=ab"}};
    const auto de = decode_channel_event(encode_channel_event(e));
    REQUIRE(de);
    CHECK(de->outcome.kind == ChannelOutcome::Kind::approved);
    CHECK(de->outcome.approval_code == "a1");
    CHECK(de->origin == e.origin);
    CHECK(de->origin_auth == e.origin_auth);
}

TEST_CASE("pending book: a payment given up is watched, not pending; the watch survives abort and the record") {
    PendingBook book;
    RoutedPayment p;
    p.request.payment_id = "w-1";
    p.route.channels = {"psp-global"};
    book.add("w-1", {p, 1, 1000, 31000, "psp_1", ""});
    book.add("w-2", {p, 1, 1000, 31000, "psp_2", ""});
    book.commit();
    auto pp = book.take("w-1");
    REQUIRE(pp);
    pp->expired_ms = 50'000;
    pp->next_query_ms = 90'000;
    book.add("w-1", *pp);
    CHECK_FALSE(book.contains("w-1"));
    CHECK(book.watched("w-1"));
    CHECK(book.size() == 1);
    CHECK(book.watched_count() == 1);
    CHECK(book.due(100'000, 10) == std::vector<std::string>{"w-2"});  // never queried again
    CHECK(book.watch_ended(89'999, 10).empty());
    CHECK(book.watch_ended(90'000, 10) == std::vector<std::string>{"w-1"});
    book.abort();
    CHECK(book.contains("w-1"));
    CHECK_FALSE(book.watched("w-1"));
    CHECK(book.watched_count() == 0);
    CHECK(book.size() == 2);
    book.add("w-1", *pp);
    book.commit();
    book.drop_partition(1);
    CHECK(book.size() == 0);
    CHECK(book.watched_count() == 0);

    const auto back = decode_pending(encode_pending(*pp, "psp-global"), 1, 1'000);
    REQUIRE(back);
    CHECK(back->expired_ms == 50'000);
    CHECK(back->next_query_ms == 51'000);  // the watch ends a window after the give-up
    const auto live = decode_pending(encode_pending(PendingPayment{p, 1, 1000, 0, "", ""}, "psp-global"), 1, 1'000);
    REQUIRE(live);
    CHECK(live->expired_ms == 0);
}

TEST_CASE("http_json settings: errors name the place and what was expected") {
    auto channel = [](const std::string& entry) {
        return parse_config(R"(kafka: {bootstrap_servers: x, topics: {}}
security: {keys_file: k}
router: {routes: [{name: r, plan: [psp]}]}
risk: {}
channels:
  - id: psp
    kind: http_json
)" + entry,
                            "t.yaml");
    };
    const std::string ok = "    endpoint: https://psp.example:8443/api/\n    tls: { ca_file: ca.pem }\n    keys_file: keys.yaml\n";
    {
        const auto cfg = channel(ok + "    webhook: { listen: 127.0.0.1:9604 }\n");
        CHECK_NOTHROW(validate_channels(cfg));
        const auto s = parse_http_json_settings(cfg.channels[0]);
        CHECK(s.host == "psp.example");
        CHECK(s.port == "8443");
        CHECK(s.base_path == "/api");
        CHECK(s.server_name == "psp.example");
        CHECK(s.callback_url == "http://127.0.0.1:9604/webhooks/psp");
        CHECK(s.busy_retries == 2);
        CHECK(s.pending.late_event_window_ms == 7 * 86'400'000LL);
    }
    {
        const auto cfg = channel(ok + "    busy_retry: { attempts: 0, delay_ms: 50, max_delay_ms: 500 }\n"
                                      "    pending: { give_up_after_seconds: 60, late_event_window_seconds: 3600 }\n");
        CHECK_NOTHROW(validate_channels(cfg));
        const auto s = parse_http_json_settings(cfg.channels[0]);
        CHECK(s.busy_retries == 0);
        CHECK(s.busy_retry_delay_ms == 50);
        CHECK(s.busy_retry_max_delay_ms == 500);
        CHECK(s.pending.late_event_window_ms == 3'600'000);
    }
    struct Case {
        const char* name;
        std::string entry;
        const char* message;
    };
    const Case cases[] = {
        {"plain http", "    endpoint: http://psp.example:80\n    tls: { ca_file: ca.pem }\n    keys_file: k\n", "t.yaml:8:15: endpoint must start with https://"},
        {"no port", "    endpoint: https://psp.example\n    tls: { ca_file: ca.pem }\n    keys_file: k\n", "expected host:port"},
        {"no CA", "    endpoint: https://psp.example:443\n    keys_file: k\n", "needs tls.ca_file"},
        {"no keys", "    endpoint: https://psp.example:443\n    tls: { ca_file: ca.pem }\n", "needs keys_file"},
        {"unknown key", ok + "    verify: false\n", "unknown key `verify`"},
        {"unknown tls key", "    endpoint: https://psp.example:443\n    tls: { ca_file: ca.pem, insecure: true }\n    keys_file: k\n", "unknown key `tls.insecure`"},
        {"timeout zero", ok + "    timeout_ms: 0\n", "timeout_ms must be an integer 1..600000"},
        {"bad listen", ok + "    webhook: { listen: nowhere }\n", "expected host:port"},
        {"unknown pending key", ok + "    pending: { wait_seconds: 3 }\n", "unknown key `pending.wait_seconds`"},
        {"busy retries unbounded", ok + "    busy_retry: { attempts: 11 }\n", "busy_retry.attempts must be an integer 0..10"},
        {"unknown busy_retry key", ok + "    busy_retry: { forever: true }\n", "unknown key `busy_retry.forever`"},
        {"busy_retry not a map", ok + "    busy_retry: 3\n", "busy_retry must be a mapping"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto cfg = channel(c.entry);
        std::string err;
        try {
            validate_channels(cfg);
        } catch (const ConfigError& e) {
            err = e.what();
        }
        CHECK_MESSAGE(err.find(c.message) != std::string::npos, err);
    }
}
