// `turnout dlq`: positions, PAN masking, escaping, unsealing and what a replay sends or refuses.
#include <doctest/doctest.h>

#include "dlq/dlq_tool.hpp"

using namespace turnout;
using namespace turnout::dlq;

namespace {
VaultKeys keys(const char* id, uint8_t fill) {
    VaultKeys k;
    Key256 a{};
    a.fill(fill);
    k.pan_keys = {{id, a}};
    k.active_pan_key = id;
    k.fingerprint_key.fill(7);
    return k;
}

const std::string kSale =
    R"({"payment_id":"p-1","type":"sale","merchant":{"id":"m1"},"amount":{"value":1000,"currency":"EUR"},)"
    R"("instrument":{"kind":"card","pan":"4111111111111111","expiry":"2812"},"created_at":"2026-11-26T06:33:25.123Z"})";
const std::string kCapture =
    R"({"payment_id":"p-1.cap","type":"capture","merchant":{"id":"m1"},"amount":{"value":1000,"currency":"EUR"},)"
    R"("original":{"payment_id":"p-1","channel":"acq-eu","channel_ref":"r1"},"created_at":"2026-11-26T06:33:25.123Z"})";

Entry sealed_entry(const CardVault& v, const std::string& bytes, const std::string& reason) {
    const auto s = v.seal(bytes, {kDlqField, {}});
    Entry e;
    e.partition = 2;
    e.offset = 17;
    e.key = "p-1";
    e.value = R"({"sealed":{"key_id":")" + s.key_id + R"(","nonce":")" + s.nonce + R"(","ciphertext":")" +
              s.ciphertext + R"(","aad":")" + s.aad + R"("}})";
    e.headers = {{"turnout.error.stage", "router"},
                 {"turnout.error.reason", reason},
                 {"turnout.error.topic", "payments.requests"},
                 {"turnout.error.partition", "2"},
                 {"turnout.error.offset", "40"},
                 {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
    return e;
}

Config test_config() {
    Config c;
    c.kafka.topics.requests = "payments.requests";
    c.kafka.topics.dlq = "payments.dlq";
    return c;
}
}  // namespace

TEST_CASE("DLQ positions are PARTITION:OFFSET") {
    struct Case {
        const char* text;
        bool ok;
        int32_t partition;
        int64_t offset;
    };
    const Case cases[] = {
        {"0:0", true, 0, 0},       {"3:1234", true, 3, 1234}, {"11:9000000000", true, 11, 9000000000},
        {"", false, 0, 0},         {":", false, 0, 0},        {"1:", false, 0, 0},
        {":1", false, 0, 0},       {"-1:2", false, 0, 0},     {"1:-2", false, 0, 0},
        {"+1:2", false, 0, 0},     {"a:1", false, 0, 0},      {"1:2:3", false, 0, 0},
        {" 1:2", false, 0, 0},     {"1:2x", false, 0, 0},     {"99999999999:1", false, 0, 0},
        {"1.5:2", false, 0, 0},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto p = parse_position(c.text);
        REQUIRE(p.has_value() == c.ok);
        if (!p) continue;
        CHECK(p->partition == c.partition);
        CHECK(p->offset == c.offset);
    }
}

TEST_CASE("every run of 13 or more digits is masked to BIN6 and last4, Luhn-valid or not") {
    const std::pair<const char*, const char*> cases[] = {
        {"4111111111111111", "411111******1111"},                  // Luhn-valid, 16
        {"4111111111111112", "411111******1112"},                  // mistyped: masked all the same
        {"4222222222222", "422222***2222"},                        // 13 digits
        {"422222222222", "422222222222"},                          // 12: not a PAN
        {"6011000990139424123", "601100*********4123"},            // 19
        {"12345678901234567890123", "123456*************0123"},    // longer: may hide a PAN
        {"4111 1111 1111 1111", "4111 11** **** 1111"},            // grouped by spaces
        {"4111-1111-1111-1111", "4111-11**-****-1111"},            // grouped by dashes
        {"4111  1111 1111 1111", "4111  1111 1111 1111"},          // two spaces: two short runs
        {R"({"pan":"5555555555554444","x":1})", R"({"pan":"555555******4444","x":1})"},
        {"a4111111111111111b and 378282246310005", "a411111******1111b and 378282*****0005"},
        {"2026-11-26T06:33:25.123Z", "2026-11-26T06:33:25.123Z"},  // times stay readable
        // 10^12 has 13 digits: masked too, the price of never missing a PAN.
        {R"("amount":{"value":1000000000000})", R"("amount":{"value":100000***0000})"},
        {"", ""},
    };
    for (const auto& [in, want] : cases) {
        CAPTURE(in);
        CHECK(mask_pans(in) == want);
    }
}

TEST_CASE("bytes that are not printable UTF-8 are escaped") {
    const std::pair<std::string, std::string> cases[] = {
        {"plain {\"a\":1}", "plain {\"a\":1}"},
        {"line\nnext\ttab\rcr", "line\\nnext\\ttab\\rcr"},
        {std::string("nul\0end", 7), "nul\\x00end"},
        {"\xff\xfe", "\\xff\\xfe"},
        {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},  // é and € kept
        {"\xc0\xaf", "\\xc0\\xaf"},                                // overlong '/'
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},                       // a surrogate
        {"\xe2\x82", "\\xe2\\x82"},                                // cut short
        {"back\\slash", "back\\\\slash"},
        {"\x1b[31m", "\\x1b[31m"},  // no terminal escapes
    };
    for (const auto& [in, want] : cases) {
        CAPTURE(in);
        CHECK(escape_bytes(in) == want);
    }
    CHECK(printable("pan 4111111111111111\n") == "pan 411111******1111\\n");
}

TEST_CASE("a sealed DLQ record opens with the configured keys, shows without a clear PAN") {
    CardVault vault(keys("k1", 1));
    const auto e = sealed_entry(vault, kSale, "unknown_currency");
    const auto o = original_of(e, vault);
    CHECK(o.sealed);
    REQUIRE(o.opened);
    CHECK(o.bytes == kSale);
    CHECK(payment_id_of(o.bytes) == "p-1");

    const auto text = show_text("payments.dlq", e, o);
    CHECK(text.find("4111111111111111") == std::string::npos);
    CHECK(text.find("411111******1111") != std::string::npos);
    CHECK(text.find("turnout.error.reason: unknown_currency") != std::string::npos);
    const auto line = list_line(e, o);
    CHECK(line.find("2:17") == 0);
    CHECK(line.find("reason=unknown_currency") != std::string::npos);
    CHECK(line.find("payment_id=p-1") != std::string::npos);
    CHECK(line.find("from=payments.requests:2:40") != std::string::npos);
    CHECK(list_json(e, o).find(R"("payment_id":"p-1")") != std::string::npos);

    // Headers the switch writes are not card data (a run id in a topic name stays whole);
    // any other header is masked.
    Entry run = e;
    run.headers.emplace_back("turnout.error.topic", "r1795689809860.payments.requests");
    run.headers.emplace_back("x-note", "card 4111111111111111");
    const auto run_text = show_text("payments.dlq", run, o);
    CHECK(run_text.find("turnout.error.topic: r1795689809860.payments.requests") != std::string::npos);
    CHECK(run_text.find("x-note: card 411111******1111") != std::string::npos);
    CHECK(list_line(run, o).find("from=r1795689809860.payments.requests:2:40") != std::string::npos);

    // Under a key this keys file does not hold: said so, nothing printed of the value.
    CardVault other(keys("k9", 9));
    const auto o2 = original_of(e, other);
    CHECK(o2.sealed);
    CHECK_FALSE(o2.opened);
    CHECK(show_text("payments.dlq", e, o2).find("does not hold") != std::string::npos);

    // A value that is no envelope (a stage that keeps the bytes in clear) is shown masked.
    Entry clear = e;
    clear.value = "not json 4111111111111111";
    const auto o3 = original_of(clear, vault);
    CHECK_FALSE(o3.sealed);
    CHECK(show_text("payments.dlq", clear, o3).find("4111111111111111") == std::string::npos);
}

TEST_CASE("what a replay refuses") {
    struct Case {
        const char* name;
        std::string reason;
        bool from_requests;
        bool from_file;
        std::string bytes;
        bool refused;
    };
    const Case cases[] = {
        {"oversize original", "oversize_record", true, false, kSale, true},
        {"oversize, fixed file", "oversize_record", true, true, kSale, false},
        {"still not JSON", "invalid_json", true, false, "{not json", true},
        {"fixed version", "unknown_currency", true, true, kSale, false},
        {"original that decodes now", "unknown_currency", true, false, kSale, false},
        {"a routed payment's record", "undecodable_routed_payment", false, false, kSale, true},
        {"a request written for it", "undecodable_routed_payment", false, true, kSale, false},
        {"still unknown currency", "unknown_currency", true, true,
         R"({"payment_id":"p-1","type":"sale","merchant":{"id":"m1"},"amount":{"value":1000,"currency":"XXQ"},)"
         R"("instrument":{"kind":"card","pan":"4111111111111111","expiry":"2812"},"created_at":"2026-11-26T06:33:25.123Z"})",
         true},
        {"too big for the router", "invalid_json", true, true, std::string(70000, ' '), true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(replay_refusal(c.reason, c.from_requests, c.from_file, c.bytes, 65536).has_value() == c.refused);
    }
}

TEST_CASE("a replay goes to payments.requests keyed by root id, naming the DLQ record it came from") {
    CardVault vault(keys("k1", 1));
    const auto cfg = test_config();
    auto e = sealed_entry(vault, kCapture, "missing_original");
    auto r = replay_record(cfg, e, kCapture);
    CHECK(r.topic == "payments.requests");
    CHECK(r.key == "p-1");  // a capture is keyed by its original's payment_id
    CHECK(r.value == kCapture);
    std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
    CHECK(h["turnout.replayed-from"] == "payments.dlq:2:17");
    CHECK(h["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

    e.headers.pop_back();  // no traceparent on the DLQ record: a new one
    r = replay_record(cfg, e, kSale);
    CHECK(r.key == "p-1");
    h = {r.headers.begin(), r.headers.end()};
    CHECK(h["traceparent"].size() == 55);
}
