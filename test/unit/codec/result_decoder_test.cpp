// Results read back from payments.results: every rule of decode_result_checked, one case each.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"
#include "model/time.hpp"
#include "state/state_stage.hpp"

using namespace turnout;
namespace json = boost::json;

namespace {

const int64_t kNow = *parse_rfc3339("2026-11-26T06:49:31.220Z");  // completed_at of the samples

// An approved sale as the connector writes it.
json::object approved_sale() {
    return json::parse(R"({
      "payment_id":"run7-s10","root_id":"run7-s10","type":"sale","status":"approved",
      "reason":{"code":"00","message":"approved"},
      "amount":{"value":518,"currency":"USD"},"merchant_id":"m-43","channel":"acq-us",
      "channel_ref":"acq-us-1d2c3b4a59687f0e","approval_code":"a1b2c3",
      "risk":{"score":0,"decision":"approve","rules_hit":[]},
      "route":{"rule":"usd","plan":["acq-us"],"attempts":[{"channel":"acq-us","outcome":"approved","reason":"00"}]},
      "instrument":{"kind":"card","fingerprint":"dc79771fcd19d70796b9529789cd9522","bin":"424242","last4":"9230"},
      "timestamps":{"created_at":"2026-11-26T06:49:29.667Z","received_at":"2026-11-26T06:49:30.452Z",
                    "routed_at":"2026-11-26T06:49:30.452Z","scored_at":"2026-11-26T06:49:30.910Z",
                    "completed_at":"2026-11-26T06:49:31.220Z"}})")
        .as_object();
}

json::object rejected() {
    return json::parse(R"({"payment_id":"run7-s396","root_id":"run7-s396","status":"rejected",
      "reason":{"code":"amount_not_integer","message":"amount.value must be an integer count of minor units"},
      "timestamps":{"received_at":"2026-11-26T06:49:31.806Z","completed_at":"2026-11-26T06:49:31.806Z"}})")
        .as_object();
}

struct Case {
    const char* name;
    std::function<json::object()> make;
    std::string_view reason;  // empty: accepted
    std::string_view field;
    std::string key = "run7-s10";
};

json::object with(json::object o, const std::function<void(json::object&)>& change) {
    change(o);
    return o;
}

}  // namespace

TEST_CASE("result validation: each rule refuses its forged case with reason and field, good results pass") {
    using R = std::string_view;
    const R invalid = result_reject::invalid_result;
    const Case cases[] = {
        {"approved sale as written", approved_sale, {}, {}},
        {"rejected result as written", rejected, {}, {}, "run7-s396"},
        {"risk decline: no channel", [] { return with(approved_sale(), [](auto& o) {
             o["status"] = "declined"; o.erase("channel"); o.erase("channel_ref"); o.erase("approval_code"); }); }, {}, {}},
        {"reason.message is free text (never written to a file)",
         [] { return with(approved_sale(), [](auto& o) { o["reason"].as_object()["message"] = "line one\nline two"; }); }, {}, {}},
        {"formula text in channel_ref is text (escaped where written)",
         [] { return with(approved_sale(), [](auto& o) { o["channel_ref"] = "=HYPERLINK(\"http://x\",\"y\")"; }); }, {}, {}},
        {"negative amount", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["value"] = -5000; }); }, invalid, "amount"},
        {"zero amount", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["value"] = 0; }); }, invalid, "amount"},
        {"amount over 10^12", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["value"] = 1'000'000'000'001; }); }, invalid, "amount"},
        {"amount a float", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["value"] = 12.5; }); }, invalid, "amount"},
        {"amount a string", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["value"] = "518"; }); }, invalid, "amount"},
        {"amount with an extra member", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["sign"] = "-"; }); }, invalid, "amount"},
        {"unknown currency", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["currency"] = "XXX"; }); }, invalid, "amount"},
        {"lower-case currency", [] { return with(approved_sale(), [](auto& o) { o["amount"].as_object()["currency"] = "usd"; }); }, invalid, "amount"},
        {"line feed in merchant_id", [] { return with(approved_sale(), [](auto& o) { o["merchant_id"] = "m-1\nD0000"; }); }, invalid, "merchant_id"},
        {"U+2028 in merchant_id", [] { return with(approved_sale(), [](auto& o) { o["merchant_id"] = "m-1\xe2\x80\xa8x"; }); }, invalid, "merchant_id"},
        {"NEL (U+0085) in merchant_id", [] { return with(approved_sale(), [](auto& o) { o["merchant_id"] = "m-1\xc2\x85x"; }); }, invalid, "merchant_id"},
        {"merchant_id of 65 bytes", [] { return with(approved_sale(), [](auto& o) { o["merchant_id"] = std::string(65, 'm'); }); }, invalid, "merchant_id"},
        {"empty merchant_id", [] { return with(approved_sale(), [](auto& o) { o["merchant_id"] = ""; }); }, invalid, "merchant_id"},
        {"merchant_id a number", [] { return with(approved_sale(), [](auto& o) { o["merchant_id"] = 43; }); }, invalid, "merchant_id"},
        {"channel with '/'", [] { return with(approved_sale(), [](auto& o) { o["channel"] = "acq/../../etc"; }); }, invalid, "channel"},
        {"channel '..'", [] { return with(approved_sale(), [](auto& o) { o["channel"] = ".."; }); }, invalid, "channel"},
        {"channel empty", [] { return with(approved_sale(), [](auto& o) { o["channel"] = ""; }); }, invalid, "channel"},
        {"channel of 65", [] { return with(approved_sale(), [](auto& o) { o["channel"] = std::string(65, 'c'); }); }, invalid, "channel"},
        {"CR in channel_ref", [] { return with(approved_sale(), [](auto& o) { o["channel_ref"] = "ref\r\nD"; }); }, invalid, "channel_ref"},
        {"channel_ref of 129", [] { return with(approved_sale(), [](auto& o) { o["channel_ref"] = std::string(129, 'r'); }); }, invalid, "channel_ref"},
        {"tab in approval_code", [] { return with(approved_sale(), [](auto& o) { o["approval_code"] = "a1\tb2"; }); }, invalid, "approval_code"},
        {"payment_id with a space", [] { return with(approved_sale(), [](auto& o) { o["payment_id"] = "run7 s10"; }); }, invalid, "payment_id"},
        {"payment_id missing", [] { return with(approved_sale(), [](auto& o) { o.erase("payment_id"); }); }, invalid, "payment_id"},
        {"root_id with '/'", [] { return with(approved_sale(), [](auto& o) { o["root_id"] = "a/b"; }); }, invalid, "root_id"},
        {"filed under another key", approved_sale, invalid, "key", "someone-else"},
        {"status unknown", [] { return with(approved_sale(), [](auto& o) { o["status"] = "settled"; }); }, invalid, "status"},
        {"status missing", [] { return with(approved_sale(), [](auto& o) { o.erase("status"); }); }, invalid, "status"},
        {"type unknown", [] { return with(approved_sale(), [](auto& o) { o["type"] = "payout"; }); }, invalid, "type"},
        {"approved without type", [] { return with(approved_sale(), [](auto& o) { o.erase("type"); }); }, invalid, "type"},
        {"reason code with a line break", [] { return with(approved_sale(), [](auto& o) { o["reason"].as_object()["code"] = "00\n"; }); }, invalid, "reason"},
        {"reason.message of 4097 bytes", [] { return with(approved_sale(), [](auto& o) { o["reason"].as_object()["message"] = std::string(4097, 'x'); }); }, invalid, "reason"},
        {"reason missing", [] { return with(approved_sale(), [](auto& o) { o.erase("reason"); }); }, invalid, "reason"},
        {"unknown member", [] { return with(approved_sale(), [](auto& o) { o["net_override"] = 1; }); }, invalid, "member"},
        {"completed_at in the future", [] { return with(approved_sale(), [](auto& o) {
             o["timestamps"].as_object()["completed_at"] = format_rfc3339(kNow + kResultClockSkewMs + 1000); }); }, invalid, "timestamps"},
        {"completed_at at the epoch", [] { return with(approved_sale(), [](auto& o) { o["timestamps"].as_object()["completed_at"] = "1970-01-01T00:00:00.000Z"; }); }, invalid, "timestamps"},
        {"completed_at missing", [] { return with(approved_sale(), [](auto& o) { o["timestamps"].as_object().erase("completed_at"); }); }, invalid, "timestamps"},
        {"completed_at not a time", [] { return with(approved_sale(), [](auto& o) { o["timestamps"].as_object()["completed_at"] = "yesterday"; }); }, invalid, "timestamps"},
        {"approved without channel", [] { return with(approved_sale(), [](auto& o) { o.erase("channel"); }); }, invalid, "channel"},
        {"declined without amount", [] { return with(approved_sale(), [](auto& o) { o["status"] = "declined"; o.erase("amount"); }); }, invalid, "amount"},
        {"approved without merchant", [] { return with(approved_sale(), [](auto& o) { o.erase("merchant_id"); }); }, invalid, "merchant_id"},
        {"original channel with '/'", [] { return with(approved_sale(), [](auto& o) {
             o["type"] = "refund"; o["original"] = json::object{{"payment_id", "p1"}, {"channel", "a/b"}, {"channel_ref", "r"}}; }); }, invalid, "original"},
        {"risk not an object", [] { return with(approved_sale(), [](auto& o) { o["risk"] = "approve"; }); }, invalid, "risk"},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        const auto out = decode_result_checked(json::serialize(c.make()), c.key, kNow);
        if (c.reason.empty()) {
            CHECK(out.result.has_value());
            CHECK_FALSE(out.problem.has_value());
            if (out.problem) MESSAGE(out.problem->field << ": " << out.problem->message);
        } else {
            REQUIRE(out.problem.has_value());
            CHECK_FALSE(out.result.has_value());
            CHECK(out.problem->reason == c.reason);
            CHECK(out.problem->field == c.field);
            CHECK(!out.problem->message.empty());
        }
    }
}

TEST_CASE("result validation: size, JSON and repeated members") {
    const auto good = json::serialize(approved_sale());
    struct Raw {
        const char* name;
        std::string bytes;
        std::string_view reason, field;
    };
    std::string repeated = good;
    repeated.insert(1, R"("amount":{"value":-5000,"currency":"USD"},)");  // the parser keeps the last one
    const Raw cases[] = {
        {"over the size limit", good + std::string(kMaxResultBytes, ' '), result_reject::oversize_result, ""},
        {"not JSON", "{\"payment_id\":", result_reject::undecodable_result, ""},
        {"an array", "[1,2]", result_reject::undecodable_result, ""},
        {"empty", "", result_reject::undecodable_result, ""},
        {"a member twice", repeated, result_reject::invalid_result, "member"},
        {"nested too deep", "{\"risk\":" + std::string(40, '[') + std::string(40, ']') + "}",
         result_reject::undecodable_result, ""},
    };
    for (const auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        const auto out = decode_result_checked(c.bytes, std::string_view("run7-s10"), kNow);
        REQUIRE(out.problem.has_value());
        CHECK(out.problem->reason == c.reason);
        CHECK(out.problem->field == c.field);
    }
    // Without a key to compare (a reader that has none), the same rules hold otherwise.
    CHECK(decode_result_checked(good, std::nullopt, kNow).result.has_value());
}

TEST_CASE("result validation: what the switch's own encoder writes is accepted") {
    PaymentResult r;
    r.payment_id = "ord-1:r1";
    r.root_id = "ord-1";
    r.type = PaymentType::refund;
    r.status = ResultStatus::approved;
    r.reason = {"00", "approved"};
    r.amount = Money{500, "JPY"};
    r.merchant_id = "Café Zürich";  // UTF-8 text is fine
    r.channel = "psp-global";
    r.channel_ref = "iso8583:0210:000123:1126063325:123456789012:TERM0001:ABC123";
    r.original = OriginalRef{"ord-1", "psp-global", "ref-1"};
    r.risk = RiskAssessment{0, "skipped", {}};
    r.route = RoutePlan{"original_channel", {"psp-global"}, {{"psp-global", "approved", "00"}}, "original_channel", {}};
    r.times.received_at = kNow - 50;
    r.times.completed_at = kNow;
    const auto out = decode_result_checked(encode_result(r), std::string_view("ord-1"), kNow);
    REQUIRE(out.result);
    CHECK(out.result->amount == r.amount);
    CHECK(out.result->merchant_id == r.merchant_id);
    CHECK(out.result->original->channel_ref == "ref-1");
    // The same result filed under its payment_id instead of its root id is refused.
    CHECK(decode_result_checked(encode_result(r), std::string_view("ord-1:r1"), kNow).problem->field == "key");
}

namespace {
struct Collect : kafka::Emitter {
    std::vector<kafka::OutRecord> records;
    void emit(const kafka::OutRecord& r) override { records.push_back(r); }
};
}  // namespace

TEST_CASE("state stage: forged results are dead-lettered with reason and field; good ones still make a state") {
    Config cfg;
    auto& t = cfg.kafka.topics;
    t.results = "payments.results", t.dlq = "payments.dlq", t.state = "payments.state";
    const auto state_dir = std::filesystem::temp_directory_path() / ("turnout-rd-test-" + std::to_string(now_ms()));
    cfg.state_dir = state_dir.string();
    StateStage stage(cfg, /*serve_http=*/false);
    const std::string now = format_rfc3339(now_ms());
    auto sale = [&](const std::string& id) {
        auto o = approved_sale();
        o["payment_id"] = id;
        o["root_id"] = id;
        o["timestamps"].as_object()["completed_at"] = now;
        return o;
    };
    struct Input {
        std::string key, value, field;
    };
    const std::vector<Input> inputs = {
        {"f-neg", json::serialize(with(sale("f-neg"), [](auto& o) { o["amount"].as_object()["value"] = -5000; })), "amount"},
        {"f-lf", json::serialize(with(sale("f-lf"), [](auto& o) { o["merchant_id"] = "m\nD"; })), "merchant_id"},
        {"f-slash", json::serialize(with(sale("f-slash"), [](auto& o) { o["channel"] = "a/b"; })), "channel"},
        {"other-key", json::serialize(sale("f-key")), "key"},
        {"f-junk", "\x01not json", ""},
        {"good-1", json::serialize(sale("good-1")), ""},
    };
    std::vector<kafka::Record> batch;
    for (size_t i = 0; i < inputs.size(); ++i)
        batch.push_back({t.results, 0, static_cast<int64_t>(i), inputs[i].key, inputs[i].value, nullptr});
    Collect out;
    CHECK_NOTHROW(stage.process(batch, out));
    std::map<std::string, std::map<std::string, std::string>> dlq;  // key → header → value
    std::vector<std::string> states;
    for (const auto& r : out.records) {
        if (r.topic == t.dlq) {
            for (const auto& [k, v] : r.headers) dlq[r.key][k] = v;
        } else {
            CHECK(r.topic == t.state);
            states.push_back(r.key);
        }
    }
    CHECK(states == std::vector<std::string>{"good-1"});
    CHECK(dlq.size() == 5);
    for (const auto& in : inputs) {
        if (in.key == "good-1") continue;
        CAPTURE(in.key);
        CHECK(dlq[in.key]["turnout.error.stage"] == "state");
        CHECK(dlq[in.key]["turnout.error.reason"] == (in.field.empty() ? "undecodable_result" : "invalid_result"));
        CHECK(dlq[in.key]["turnout.error.field"] == in.field);
        CHECK(!dlq[in.key]["turnout.error.detail"].empty());
    }
    stage.stores()->commit({});  // as the runner does once the transaction commits
    stage.on_commit();
    CHECK(stage.lookup("good-1").status == 200);
    std::filesystem::remove_all(state_dir);
}
