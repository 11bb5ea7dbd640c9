// Codec round trips: what a stage writes, the next stage reads back unchanged.
#include <doctest/doctest.h>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "model/time.hpp"

using namespace turnout;

TEST_CASE("request: encode then decode gives the same request") {
    PaymentRequest r;
    r.payment_id = "ord-42:1";
    r.type = PaymentType::authorize;
    r.merchant = {"m-9", "5812", "FR"};
    r.amount = {123456, "JPY"};
    r.instrument = Instrument{};
    r.instrument->kind = InstrumentKind::card;
    r.instrument->pan = "5500000000000004";
    r.instrument->expiry = "3001";
    r.customer = Customer{"c-1", "203.0.113.9", "FR"};
    r.metadata = {{"a", "b"}};
    r.created_at_ms = 1795674805123;
    const auto out = decode_request(encode_request(r), 65536);
    REQUIRE(out.request);
    CHECK(out.request->payment_id == r.payment_id);
    CHECK(out.request->type == r.type);
    CHECK(out.request->amount == r.amount);
    CHECK(out.request->instrument->pan == r.instrument->pan);
    CHECK(out.request->customer->ip == "203.0.113.9");
    CHECK(out.request->created_at_ms == r.created_at_ms);
}

TEST_CASE("routed payment round trip keeps plan, risk, protected instrument and times") {
    RoutedPayment p;
    p.request.payment_id = "c-1";
    p.request.type = PaymentType::capture;
    p.request.merchant = {"m-1", "", ""};
    p.request.amount = {700, "GBP"};
    p.request.original = OriginalRef{"a-1", "acq-eu", "acq-eu-77"};
    Instrument in;
    in.kind = InstrumentKind::card;
    in.fingerprint = "ab12";
    in.bin = "411111";
    in.last4 = "1111";
    in.sealed_pan = SealedData{"k1", "bm9uY2U=", "Y3Q="};
    p.request.instrument = in;
    p.route = {"eur-cards", {"acq-eu", "psp-global"}, {{"acq-eu", "soft_failure", "96"}}};
    p.risk = RiskAssessment{20, "approve", {"amount_limit"}};
    p.times = {1000, 2000, 3000, 4000, 0};
    const auto back = decode_routed(encode_routed(p));
    REQUIRE(back);
    CHECK(back->request.payment_id == "c-1");
    CHECK(back->request.root_id() == "a-1");
    CHECK(back->request.amount == Money{700, "GBP"});
    CHECK(back->request.instrument->sealed_pan->key_id == "k1");
    CHECK(back->request.instrument->pan.empty());
    CHECK(back->route.channels == std::vector<std::string>{"acq-eu", "psp-global"});
    REQUIRE(back->route.attempts.size() == 1);
    CHECK(back->route.attempts[0].reason == "96");
    CHECK(back->risk->rules_hit == std::vector<std::string>{"amount_limit"});
    CHECK(back->times.scored_at == 4000);
}

TEST_CASE("routed payment carries the partition its request arrived in") {
    RoutedPayment p;
    p.request.payment_id = "s-1";
    p.request.type = PaymentType::sale;
    p.request.merchant = {"m-1", "", ""};
    p.request.amount = {100, "EUR"};
    p.route = {"default", {"acq-eu"}, {}};
    p.times = {1000, 2000, 3000, 0, 0};
    SUBCASE("absent: the key decides") {
        const auto back = decode_routed(encode_routed(p));
        REQUIRE(back);
        CHECK(back->home_partition == -1);
    }
    for (int32_t home : {0, 7, 1 << 20}) {
        p.home_partition = home;
        const auto back = decode_routed(encode_routed(p));
        REQUIRE(back);
        CHECK(back->home_partition == home);
    }
    // Anything but a partition number makes the record undecodable (dead-lettered by the stage).
    const std::string good = encode_routed(p);
    const auto with = [&](const std::string& v) {
        return good.substr(0, good.rfind(",\"home_partition\"")) + ",\"home_partition\":" + v + "}";
    };
    CHECK(decode_routed(with("3")));
    for (const char* bad : {"-1", "1048577", "\"3\"", "3.5", "null", "[]", "99999999999999999999"}) {
        CAPTURE(bad);
        CHECK_FALSE(decode_routed(with(bad)));
    }
}

TEST_CASE("result round trip") {
    PaymentResult r;
    r.payment_id = "p-1";
    r.root_id = "p-1";
    r.type = PaymentType::sale;
    r.status = ResultStatus::declined;
    r.reason = {"51", "insufficient funds"};
    r.amount = Money{1051, "EUR"};
    r.merchant_id = "m-1";
    r.channel = "acq-eu";
    r.channel_ref = "acq-eu-1";
    r.instrument = InstrumentView{InstrumentKind::card, "fp", "411111", "1111"};
    r.times.completed_at = 1795674805123;
    const auto back = decode_result(encode_result(r));
    REQUIRE(back);
    CHECK(back->status == ResultStatus::declined);
    CHECK(back->reason.code == "51");
    CHECK(back->amount == r.amount);
    CHECK(back->instrument->last4 == "1111");
    CHECK(back->times.completed_at == r.times.completed_at);
    CHECK(encode_result(*back) == encode_result(r));
}

TEST_CASE("batch summary round trip") {
    BatchSummary b;
    b.batch_id = "acq-eu.EUR.20261126T063000Z.0";
    b.channel = "acq-eu";
    b.currency = "EUR";
    b.window_start_ms = 1795674600000;
    b.window_end_ms = 1795674610000;
    b.record_count = 3;
    b.debit_total = 5000;
    b.credit_total = 1200;
    b.net = 3800;
    b.fee_total = 95;
    b.merchants = {{"m-1", 2, 5000, 0, 95, 5000}, {"m-2", 1, 0, 1200, 0, -1200}};
    b.file = "acq-eu.EUR.20261126T063000Z.0.csv";
    b.sha256 = "00ff";
    b.closed_at_ms = 1795674612000;
    const auto back = decode_batch_summary(encode_batch_summary(b));
    REQUIRE(back);
    CHECK(back->status == "closed");
    CHECK(back->net == 3800);
    CHECK(back->fee_total == 95);
    CHECK(back->merchants == b.merchants);
    CHECK(back->window_end_ms == b.window_end_ms);
    CHECK(back->sha256 == "00ff");
    b.status = "settled";
    b.settled_at_ms = 1795674700000;
    CHECK(decode_batch_summary(encode_batch_summary(b))->settled_at_ms == 1795674700000);
}

TEST_CASE("RFC 3339 times") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
    CHECK(parse_rfc3339("2024-02-29T23:59:59.999Z") == 1709251199999);
    CHECK(parse_rfc3339("2023-02-29T00:00:00Z") == std::nullopt);
    CHECK(parse_rfc3339("2026-11-26T06:33:25.5-02:00") == parse_rfc3339("2026-11-26T08:33:25.500Z"));
    const int64_t t = 1795674805123;
    CHECK(parse_rfc3339(format_rfc3339(t)) == t);
}

#include <boost/json.hpp>

#include "codec/json_writer.hpp"

TEST_CASE("JsonWriter: nesting, commas and escaping give what a JSON parser reads back") {
    JsonWriter w;
    w.begin_object().field("s", std::string_view("q\"b\\n\n\t\x01é")).field("n", int64_t{-9223372036854775807 - 1});
    w.key("a").begin_array().value("x").value(int64_t{0}).begin_object().end_object().begin_array().end_array().end_array();
    w.key("o").begin_object().field("t", true).optional_field("skip", "").end_object();
    const auto text = w.end_object().take();
    const auto v = boost::json::parse(text);
    CHECK(v.at("s").as_string() == "q\"b\\n\n\t\x01é");
    CHECK(v.at("n").as_int64() == INT64_MIN);
    CHECK(v.at("a").as_array().size() == 4);
    CHECK(v.at("o").as_object().size() == 1);
}
