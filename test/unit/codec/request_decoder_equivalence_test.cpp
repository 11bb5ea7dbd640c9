// The request decoder reads JSON with its own Boost.JSON basic_parser handler instead of
// building a document and validating the tree. These tests hold it to the decoder it
// replaced (request_decoder_reference.cpp): on the bad-input corpus, on a table of edge
// cases, on 100,000 generated requests of the load generator's mix and on 100,000 mutations
// of them, both give the same request, or the same rejection code, message and ids.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codec/request_decoder.hpp"
#include "loadgen/request_factory.hpp"
#include "request_decoder_reference.hpp"

using namespace turnout;
namespace fs = std::filesystem;

namespace {

// "" when both decoders agree, else what differs.
std::string difference(std::string_view bytes, size_t max_bytes = 65536) {
    const auto a = decode_request(bytes, max_bytes);
    const auto b = decode_request_reference(bytes, max_bytes);
    if (a.request.has_value() != b.request.has_value())
        return a.request ? "accepted, the reference refused: " + b.rejection->code
                         : "refused (" + a.rejection->code + "), the reference accepted";
    if (a.masked_card_numbers != b.masked_card_numbers) return "masked card numbers differ";
    if (a.request) {
        const auto ea = encode_request(*a.request), eb = encode_request(*b.request);
        if (ea != eb) return "requests differ:\n  " + ea + "\n  " + eb;
        return "";
    }
    const auto &ra = *a.rejection, &rb = *b.rejection;
    if (ra.code != rb.code) return "code " + ra.code + ", the reference " + rb.code;
    if (ra.message != rb.message) return "message `" + ra.message + "`, the reference `" + rb.message + "`";
    if (ra.payment_id != rb.payment_id || ra.root_id != rb.root_id) return "rejection ids differ";
    return "";
}

std::string outcome(std::string_view bytes) {
    const auto a = decode_request(bytes, 65536);
    return a.request ? "accepted" : a.rejection->code;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

const std::string kSale =
    R"({"payment_id":"p-1","type":"sale","merchant":{"id":"m-1","mcc":"5411","country":"US"},)"
    R"("amount":{"value":1250,"currency":"EUR"},"instrument":{"kind":"card","pan":"4111111111111111","expiry":"2912"},)"
    R"("customer":{"id":"c-1","ip":"198.51.100.7","country":"DE"},"metadata":{"order":"o-1"},)"
    R"("created_at":"2026-12-01T10:00:00Z"})";

std::string replaced(std::string s, std::string_view from, std::string_view to) {
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
}

std::string many_members(std::string_view object_key, int n, bool repeat_last) {
    std::string body;
    for (int i = 0; i < n; ++i) body += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
    if (repeat_last) body += ",\"k" + std::to_string(n - 1) + "\":\"w\"";
    return replaced(kSale, R"("metadata":{"order":"o-1"})", "\"" + std::string(object_key) + "\":{" + body + "}");
}

}  // namespace

TEST_CASE("request decoder equals the reference decoder: edge cases, each with its expected outcome") {
    const std::string capture =
        R"({"payment_id":"c-1","type":"capture","merchant":{"id":"m-1"},"amount":{"value":5,"currency":"EUR"},)"
        R"("original":{"payment_id":"p-1","channel":"acq-eu","channel_ref":"r-9"},"created_at":"2026-12-01T10:00:00Z"})";
    std::string deep = kSale;
    deep.insert(deep.size() - 1, R"(,"x":)" + std::string(15, '[') + std::string(15, ']'));
    std::string too_deep = kSale;
    too_deep.insert(too_deep.size() - 1, R"(,"x":)" + std::string(16, '[') + std::string(16, ']'));
    const struct {
        std::string name;
        std::string bytes;
        std::string expected;
    } cases[] = {
        {"a valid sale", kSale, "accepted"},
        {"a valid capture", capture, "accepted"},
        {"trailing whitespace", kSale + " \n\t", "accepted"},
        {"trailing garbage", kSale + " x", "invalid_json"},
        {"two documents", kSale + kSale, "invalid_json"},
        {"a truncated document", kSale.substr(0, kSale.size() - 1), "invalid_json"},
        {"a top-level array", "[" + kSale + "]", "not_an_object"},
        {"a repeated member inside a top-level array", R"([{"a":1,"a":2}])", "invalid_json"},
        {"a top-level string", R"("payment_id")", "not_an_object"},
        {"a repeated top-level member", replaced(kSale, R"("type":"sale")", R"("type":"sale","type":"sale")"), "invalid_json"},
        {"a member repeated through an escape", replaced(kSale, R"("type":"sale")", R"("type":"sale","typ\u0065":"void")"),
         "invalid_json"},
        {"a repeated member deep in an unknown field", replaced(kSale, "{\"payment_id\"", R"({"z":[{"q":{"a":1,"a":1}}],"payment_id")"),
         "invalid_json"},
        {"a repeated member in metadata", replaced(kSale, R"({"order":"o-1"})", R"({"order":"o-1","order":"o-2"})"), "invalid_json"},
        {"the same name in two sibling objects", replaced(kSale, R"({"order":"o-1"})", R"({"id":"o-1"})"), "accepted"},
        {"a repeated name among 40 members", many_members("zz", 40, true), "invalid_json"},
        {"40 distinct members in an unknown object", many_members("zz", 40, false), "unknown_field"},
        {"21 metadata members", many_members("metadata", 21, false), "invalid_metadata"},
        {"20 metadata members", many_members("metadata", 20, false), "accepted"},
        {"an escaped unknown name", replaced(kSale, "{\"payment_id\"", R"({"\u00e9t\u00e9":1,"payment_id")"), "unknown_field"},
        {"an empty unknown name", replaced(kSale, "{\"payment_id\"", R"({"":1,"payment_id")"), "unknown_field"},
        {"an escaped known name", replaced(kSale, R"("type":"sale")", R"("t\u0079pe":"s\u0061le")"), "accepted"},
        {"an escaped PAN", replaced(kSale, "4111111111111111", R"(\u0034111111111111111)"), "accepted"},
        {"an invalid escape", replaced(kSale, "o-1", R"(o\q1)"), "invalid_json"},
        {"invalid UTF-8", replaced(kSale, "o-1", "o\xff" "1"), "invalid_json"},
        {"nesting at the limit", deep, "unknown_field"},
        {"nesting beyond the limit", too_deep, "invalid_json"},
        {"payment_id missing", replaced(kSale, R"("payment_id":"p-1",)", ""), "missing_payment_id"},
        {"payment_id a number", replaced(kSale, R"("p-1")", "7"), "invalid_payment_id"},
        {"payment_id null", replaced(kSale, R"("p-1")", "null"), "invalid_payment_id"},
        {"amount -0", replaced(kSale, "1250", "-0"), "amount_out_of_range"},
        {"amount 0", replaced(kSale, "1250", "0"), "amount_out_of_range"},
        {"amount 1e3", replaced(kSale, "1250", "1e3"), "amount_not_integer"},
        {"amount 1e400 (infinity)", replaced(kSale, "1250", "1e400"), "amount_out_of_range"},
        {"amount 1e13", replaced(kSale, "1250", "1e13"), "amount_out_of_range"},
        {"amount beyond int64", replaced(kSale, "1250", "9223372036854775808"), "amount_out_of_range"},
        {"amount beyond uint64", replaced(kSale, "1250", "18446744073709551616"), "amount_out_of_range"},
        {"amount a string", replaced(kSale, "1250", R"("1250")"), "amount_not_integer"},
        {"amount value missing", replaced(kSale, R"("value":1250,)", ""), "missing_amount"},
        {"amount an array", replaced(kSale, R"({"value":1250,"currency":"EUR"})", "[1250]"), "missing_amount"},
        {"an unknown amount member", replaced(kSale, R"("value":1250,)", R"("value":1250,"fx":1,)"), "unknown_field"},
        {"merchant a string", replaced(kSale, R"({"id":"m-1","mcc":"5411","country":"US"})", R"("m-1")"), "invalid_merchant"},
        {"an unknown merchant member", replaced(kSale, R"("id":"m-1",)", R"("id":"m-1","name":"x",)"), "invalid_merchant"},
        {"a card instrument with a token", replaced(kSale, R"("expiry":"2912")", R"("expiry":"2912","token":"t","zz":1)"),
         "invalid_instrument"},
        {"a wallet with a PAN", replaced(kSale, R"({"kind":"card","pan":"4111111111111111","expiry":"2912"})",
                                         R"({"kind":"wallet","pan":"4111111111111111","provider":"x","token":"y"})"),
         "invalid_instrument"},
        {"an instrument without kind", replaced(kSale, R"("kind":"card",)", ""), "invalid_instrument"},
        {"an instrument array", replaced(kSale, R"({"kind":"card","pan":"4111111111111111","expiry":"2912"})", "[]"),
         "invalid_instrument"},
        {"a card token that is a card number", replaced(kSale, R"({"kind":"card","pan":"4111111111111111","expiry":"2912"})",
                                                        R"({"kind":"card_token","token":"4111 1111 1111 1111"})"),
         "card_number_in_free_text"},
        {"a card number in metadata is masked", replaced(kSale, R"("o-1")", R"("card 4111-1111-1111-1111")"), "accepted"},
        {"original on a sale", replaced(kSale, R"("type":"sale",)", R"("type":"sale","original":{},)"), "invalid_original"},
        {"original with a fourth member", replaced(capture, R"("channel_ref":"r-9")", R"("channel_ref":"r-9","x":1)"),
         "invalid_original"},
        {"original a string", replaced(capture, R"({"payment_id":"p-1","channel":"acq-eu","channel_ref":"r-9"})", R"("p-1")"),
         "invalid_original"},
        {"a capture without original", replaced(capture, R"("original":{"payment_id":"p-1","channel":"acq-eu","channel_ref":"r-9"},)", ""),
         "missing_original"},
        {"a capture refused after its original is read",
         replaced(capture, R"("currency":"EUR")", R"("currency":"XXY")"), "unknown_currency"},
        {"created_at missing", replaced(kSale, R"(,"created_at":"2026-12-01T10:00:00Z")", ""), "invalid_created_at"},
        {"customer an array", replaced(kSale, R"({"id":"c-1","ip":"198.51.100.7","country":"DE"})", "[]"), "invalid_customer"},
        {"an unknown customer member", replaced(kSale, R"("id":"c-1",)", R"("id":"c-1","email":"a",)"), "invalid_customer"},
        {"metadata value a number", replaced(kSale, R"("o-1")", "1"), "invalid_metadata"},
        {"metadata an array", replaced(kSale, R"({"order":"o-1"})", R"(["o-1"])"), "invalid_metadata"},
        {"a comment", replaced(kSale, "{\"payment_id\"", "{/*x*/\"payment_id\""), "invalid_json"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(difference(c.bytes) == "");
        CHECK(outcome(c.bytes) == c.expected);
    }
    // The size limit comes first in both.
    CHECK(difference(kSale, 100) == "");
    CHECK(outcome(std::string(70000, ' ')) == "oversize_record");
}

TEST_CASE("request decoder equals the reference decoder on the bad-input corpus") {
    const fs::path corpus = fs::path(TURNOUT_SOURCE_DIR) / "test" / "data" / "bad-requests";
    int n = 0;
    for (const auto& entry : fs::directory_iterator(corpus)) {
        if (entry.path().extension() != ".json") continue;
        CAPTURE(entry.path().filename().string());
        CHECK(difference(slurp(entry.path())) == "");
        ++n;
    }
    CHECK(n >= 60);
}

TEST_CASE("request decoder equals the reference decoder on 100,000 generated requests and 100,000 mutations") {
    RequestFactory factory(7, "eq", FactoryMix{0.05, 0.3, 0.3, 0.2, 0.3, 0.3, 0.05});
    std::mt19937_64 rng(11);
    std::vector<std::string> generated;
    generated.reserve(100000);
    // Originals, and their follow-ups as if every original and step were approved.
    while (generated.size() < 100000) {
        auto g = factory.next_initial();
        generated.push_back(g.value);
        if (g.label.rfind("invalid:", 0) == 0) continue;
        PaymentResult approved;
        approved.payment_id = approved.root_id = g.payment_id;
        approved.type = g.type;
        approved.status = ResultStatus::approved;
        approved.amount = g.amount;
        approved.merchant_id = "m-1";
        approved.channel = "acq-eu";
        approved.channel_ref = "r-" + g.payment_id;
        for (auto next = factory.follow_up_for(approved); next && generated.size() < 100000;) {
            generated.push_back(next->value);
            PaymentResult step = approved;
            step.payment_id = next->payment_id;
            step.type = next->type;
            step.amount = next->amount;
            next = factory.follow_up_for(step);
        }
    }
    std::map<std::string, int> outcomes;
    int differences = 0;
    auto check = [&](const std::string& bytes) {
        const auto d = difference(bytes);
        if (!d.empty() && ++differences <= 5) FAIL_CHECK(d << "\n  input: " << bytes.substr(0, 600));
        ++outcomes[outcome(bytes)];
    };
    for (const auto& g : generated) check(g);
    // Mutations: a byte dropped, replaced by a byte JSON cares about, or a member repeated.
    static constexpr std::string_view kBytes = "{}[]\",:\\ 0123456789.-+eEtrufalsn\x01\x7f\xc3\xa9\xff";
    for (const auto& g : generated) {
        if (g.size() < 4 || g.size() > 4096) continue;
        std::string m = g;
        const size_t at = std::uniform_int_distribution<size_t>(1, m.size() - 2)(rng);
        switch (rng() % 4) {
            case 0: m.erase(at, 1); break;
            case 1: m[at] = kBytes[rng() % kBytes.size()]; break;
            case 2: m.insert(at, 1, kBytes[rng() % kBytes.size()]); break;
            default: {
                const auto comma = m.find(',', at);
                const auto colon = comma == std::string::npos ? comma : m.find(':', comma);
                const auto end = colon == std::string::npos ? colon : m.find_first_of(",}", colon);
                if (end != std::string::npos) m.insert(end, m.substr(comma, end - comma));
            }
        }
        check(m);
    }
    CHECK(differences == 0);
    INFO("outcomes: " << outcomes.size());
    // The inputs reach acceptance and a wide range of rejections, or the comparison proves little.
    CHECK(outcomes["accepted"] > 50000);
    CHECK(outcomes["invalid_json"] > 10000);
    CHECK(outcomes.size() >= 15);
}
