// ISO 8583 packer/unpacker (every field encoding, bitmaps, malformed input), the §9 mapping
// and the channel_ref round trip.
#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "config/config.hpp"
#include "connector.hpp"
#include "iso8583/journal.hpp"
#include "iso8583/mapping.hpp"
#include "iso8583/message.hpp"
#include "iso8583/settings.hpp"

using namespace turnout;
using namespace turnout::iso8583;

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

const Layout& iso87() {
    static const Layout l = load_layout_file(std::string(TURNOUT_SOURCE_DIR) + "/config/iso8583/iso87-ascii.yaml");
    return l;
}

Layout layout_of(const std::string& yaml) { return parse_layout(YAML::Load(yaml), "t.yaml"); }

}  // namespace

TEST_CASE("iso8583: ISO87 ASCII messages pack to the bytes a standard host expects") {
    IsoMessage m;
    m.mti = "0200";
    m.set(2, "4111111111111111");
    m.set(3, "0");          // fixed n: zero-padded on the left
    m.set(4, "1000");
    m.set(11, "123");
    m.set(41, "TN1");       // fixed ans: space-padded on the right
    m.set(49, "978");
    std::string err;
    const auto out = pack(iso87(), m, &err);
    REQUIRE_MESSAGE(out, err);
    // Bitmap bits 2, 3, 4, 11, 41, 49 as 16 hex characters.
    CHECK(text(*out) == "0200" "7020000000808000" "164111111111111111" "000000" "000000001000" "000123" "TN1     " "978");
    const auto back = unpack(iso87(), *out, &err);
    REQUIRE_MESSAGE(back, err);
    CHECK(back->mti == "0200");
    CHECK(back->get(2) == "4111111111111111");
    CHECK(back->get(3) == "000000");
    CHECK(back->get(41) == "TN1     ");
    CHECK(back->fields.size() == 6);
}

TEST_CASE("iso8583: a field above 64 sets the secondary bitmap") {
    IsoMessage m;
    m.mti = "0800";
    m.set(7, "1126091500");
    m.set(11, "000001");
    m.set(70, "301");
    std::string err;
    const auto out = pack(iso87(), m, &err);
    REQUIRE(out);
    CHECK(text(*out) == "0800" "8220000000000000" "0400000000000000" "1126091500" "000001" "301");
    const auto back = unpack(iso87(), *out, &err);
    REQUIRE_MESSAGE(back, err);
    CHECK(back->get(70) == "301");
}

TEST_CASE("iso8583: each field encoding packs and unpacks") {
    const auto l = layout_of(R"(
name: mixed
mti: bcd
bitmap: binary
fields:
  2: {type: n, length: 19, prefix: LL, encoding: bcd, prefix_encoding: bcd}
  3: {type: n, length: 6, encoding: bcd}
  4: {type: n, length: 3, encoding: bcd}
  35: {type: ans, length: 37, prefix: LL, prefix_encoding: binary}
  48: {type: ans, length: 999, prefix: LLL}
  52: {type: b, length: 8}
  55: {type: b, length: 255, prefix: LLL, prefix_encoding: bcd}
  64: {type: b, length: 4, encoding: ascii}
)");
    struct Case {
        int field;
        std::string value;
        std::string wire;  // the field's bytes on the wire
    };
    const Case cases[] = {
        {2, "4111111111111", std::string("\x13\x04\x11\x11\x11\x11\x11\x11", 8)},  // odd digits: left nibble 0
        {3, "123456", "\x12\x34\x56"},
        {4, "7", std::string("\x00\x07", 2)},
        {35, "41;=2812", "\x08" "41;=2812"},
        {48, "hello", "005hello"},
        {52, std::string("\x00\x01\x02\x03\xfc\xfd\xfe\xff", 8), std::string("\x00\x01\x02\x03\xfc\xfd\xfe\xff", 8)},
        {55, "\x9f\x26", std::string("\x00\x02\x9f\x26", 4)},
        {64, std::string("\xde\xad\xbe\xef", 4), "DEADBEEF"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.field);
        IsoMessage m;
        m.mti = "0100";
        m.set(c.field, c.value);
        std::string err;
        const auto out = pack(l, m, &err);
        REQUIRE_MESSAGE(out, err);
        REQUIRE(out->size() == 2 + 8 + c.wire.size());
        CHECK((*out)[0] == 0x01);
        CHECK((*out)[1] == 0x00);
        CHECK(std::string(out->begin() + 10, out->end()) == c.wire);
        const auto back = unpack(l, *out, &err);
        REQUIRE_MESSAGE(back, err);
        CHECK(back->mti == "0100");
        std::string expect = c.value;
        if (c.field == 4) expect = "007";
        CHECK(back->get(c.field) == expect);
    }
}

TEST_CASE("iso8583: values that do not fit the layout are refused when packing") {
    struct Case {
        const char* name;
        int field;
        std::string value;
        const char* error;
    };
    const Case cases[] = {
        {"letters in n", 4, "12a", "digits"},
        {"too long fixed", 3, "1234567", "longer than 6"},
        {"too long LLVAR", 2, std::string(20, '4'), "longer than 19"},
        {"field not in layout", 1, "x", "outside 2..128"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        IsoMessage m;
        m.mti = "0200";
        m.set(c.field, c.value);
        std::string err;
        CHECK_FALSE(pack(iso87(), m, &err));
        CHECK(err.find(c.error) != std::string::npos);
    }
    IsoMessage bad_mti;
    bad_mti.mti = "02X0";
    CHECK_FALSE(pack(iso87(), bad_mti, nullptr));
}

TEST_CASE("iso8583: malformed input is refused with a reason, never read past its end") {
    struct Case {
        const char* name;
        std::string wire;
        const char* error;
    };
    const Case cases[] = {
        {"empty", "", "MTI"},
        {"short MTI", "02", "MTI"},
        {"MTI not digits", "02A0" "0000000000000000", "MTI"},
        {"bitmap cut", "0200" "70000000", "primary bitmap"},
        {"bitmap not hex", "0200" "7000000000000ZZZ", "not hex"},
        {"secondary bitmap missing", "0800" "8220000000000000", "secondary bitmap"},
        {"LL length not digits", "0200" "4000000000000000" "1x4111", "length is not digits"},
        {"LL length above max", "0200" "4000000000000000" "20" "41111111111111111111", "exceeds 19"},
        {"field cut short", "0200" "4000000000000000" "164111", "field 2"},
        {"fixed n not digits", "0200" "2000000000000000" "00A000", "not digits"},
        {"field not in layout", "0200" "0000000000000001" "x", "field 64"},
        {"trailing bytes", "0200" "2000000000000000" "000000" "zz", "trailing"},
    };
    // field 64 is in the ISO87 layout: use a layout without it for that case.
    const auto small = layout_of("{name: small, fields: {2: {type: n, length: 19, prefix: LL}, 3: {type: n, length: 6}}}");
    for (const auto& c : cases) {
        CAPTURE(c.name);
        std::string err;
        const auto w = bytes(c.wire);
        CHECK_FALSE(unpack(small, w, &err));
        CHECK_MESSAGE(err.find(c.error) != std::string::npos, err);
    }
    // Random bytes and every prefix of a valid message: no crash, no exception.
    IsoMessage m;
    m.mti = "0210";
    for (int f : {2, 3, 4, 7, 11, 37, 38, 39, 41, 42, 49, 90}) m.set(f, f == 2 ? "4111111111111111" : "1");
    const auto good = *pack(iso87(), m, nullptr);
    for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(unpack(iso87(), std::span(good.data(), n), nullptr));
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        std::vector<uint8_t> junk(rng() % 200);
        for (auto& b : junk) b = static_cast<uint8_t>(rng() % 4 ? "0123456789ABCDEF"[rng() % 16] : rng());
        std::string err;
        (void)unpack(iso87(), junk, &err);
    }
}

TEST_CASE("iso8583: layout YAML errors name file, line and column") {
    struct Case {
        const char* yaml;
        const char* error;
    };
    const Case cases[] = {
        {"{fields: {2: {type: x, length: 2}}}", "t.yaml:1:14: field 2 type must be n, an, ans or b"},
        {"{fields: {200: {type: n, length: 2}}}", "field numbers are 2..128"},
        {"{fields: {2: {type: an, length: 2, encoding: bcd}}}", "bcd encodes only n fields"},
        {"{fields: {2: {type: n, length: 120, prefix: LL}}}", "LL: length at most 99"},
        {"{bitmap: octal, fields: {}}", "bitmap must be hex or binary"},
        {"{fields: {2: {type: n, length: 2, colour: red}}}", "unknown field key `colour`"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.yaml);
        try {
            layout_of(c.yaml);
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(c.error) != std::string::npos, e.what());
        }
    }
}

TEST_CASE("iso8583: length headers") {
    const std::vector<uint8_t> body(300, 'x');
    struct Case {
        LengthHeader h;
        std::string header;
    };
    const Case cases[] = {{LengthHeader::binary2, std::string("\x01\x2c", 2)},
                          {LengthHeader::binary4, std::string("\x00\x00\x01\x2c", 4)},
                          {LengthHeader::ascii4, "0300"}};
    for (const auto& c : cases) {
        const auto f = frame(c.h, body);
        REQUIRE(f);
        CHECK(std::string(f->begin(), f->begin() + header_size(c.h)) == c.header);
        CHECK(body_length(c.h, std::span(f->data(), header_size(c.h))) == 300u);
    }
    CHECK_FALSE(body_length(LengthHeader::ascii4, bytes("03x0")));
    CHECK_FALSE(frame(LengthHeader::binary2, std::vector<uint8_t>(70000)));
    CHECK_FALSE(frame(LengthHeader::ascii4, std::vector<uint8_t>(10000)));
}

TEST_CASE("iso8583: payments map to messages per docs/design.md, ISO 8583 mapping") {
    MessageSettings s;
    RoutedPayment p;
    p.request.payment_id = "pay-1";
    p.request.merchant.id = "merchant-with-a-long-id";
    p.request.amount = {12345, "EUR"};
    Instrument in;
    in.expiry = "2812";
    p.request.instrument = in;
    OriginalData orig{"0100", "000042", "1126091500", "ABCDEF123456", "TNXYZ123", "", "A1B2C3"};
    s.acquirer_id = "12345678";
    struct Case {
        PaymentType type;
        bool advice;
        const char* mti;
        const char* pcode;
        bool field90;
    };
    const Case cases[] = {
        {PaymentType::authorize, true, "0100", "000000", false}, {PaymentType::sale, true, "0200", "000000", false},
        {PaymentType::capture, true, "0220", "000000", true},    {PaymentType::capture, false, "0200", "000000", true},
        {PaymentType::refund, true, "0200", "200000", true},     {PaymentType::void_, true, "0400", "000000", true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.mti);
        p.request.type = c.type;
        p.request.original = OriginalRef{"orig", "acq-eu", format_channel_ref(orig)};
        s.capture_as_advice = c.advice;
        std::string why;
        const auto m = request_for(p, "4111111111111111", s, &why);
        REQUIRE_MESSAGE(m, why);
        CHECK(m->mti == std::string(c.mti));
        CHECK(m->get(3) == c.pcode);
        CHECK(m->get(4) == "000000012345");
        CHECK(m->get(49) == "978");
        CHECK(m->get(14) == "2812");
        CHECK(m->get(42) == "merchant-with-a");
        CHECK(m->get(37) == rrn_for("pay-1"));
        CHECK(m->has(90) == c.field90);
        if (c.field90) CHECK(m->get(90) == "0100" "000042" "1126091500" "00012345678" "00000000000");
        CHECK(pack(iso87(), *m, nullptr));
    }
    p.request.type = PaymentType::refund;
    p.request.original = OriginalRef{"orig", "acq-eu", "psp-ref-123"};
    std::string why;
    CHECK_FALSE(request_for(p, "", s, &why));
    CHECK(why.find("channel_ref") != std::string::npos);
}

TEST_CASE("iso8583: response codes map to outcomes; channel_ref round-trips; reversal carries field 90") {
    IsoMessage req;
    req.mti = "0200";
    req.set(32, "12345678");
    req.set(37, "ABCDEF123456");
    stamp(req, 77, "TNXYZ123", 1'795'000'000'000);
    using K = ChannelOutcome::Kind;
    struct Case {
        const char* code;
        K kind;
    };
    const Case cases[] = {{"00", K::approved}, {"05", K::declined}, {"51", K::declined}, {"14", K::declined},
                          {"91", K::soft_failure}, {"96", K::soft_failure}, {"", K::declined}};
    for (const auto& c : cases) {
        CAPTURE(c.code);
        IsoMessage resp;
        resp.mti = "0210";
        if (*c.code) resp.set(39, c.code);
        resp.set(38, "A1B2C3");
        const auto o = outcome_for_response(req, resp);
        CHECK(o.kind == c.kind);
        if (*c.code) CHECK(o.code == c.code);
        if (c.kind == K::approved) {
            CHECK(o.approval_code == "A1B2C3");
            const auto ref = parse_channel_ref(o.channel_ref);
            REQUIRE(ref);
            CHECK(ref->mti == "0200");
            CHECK(ref->stan == "000077");
            CHECK(ref->rrn == "ABCDEF123456");
            CHECK(ref->terminal == "TNXYZ123");
            CHECK(ref->approval == "A1B2C3");
            CHECK(ref->transmission == req.get(7));
        }
    }
    const auto rev = reversal_for(req);
    CHECK(rev.mti == "0400");
    CHECK(rev.get(37) == "ABCDEF123456");
    CHECK(rev.get(90).substr(0, 10) == "0200000077");
    CHECK(response_mti("0401") == "0410");
    CHECK(response_mti("0220") == "0230");
    CHECK(response_mti("0210").empty());
    CHECK(rrn_for("a") != rrn_for("b"));
    CHECK(rrn_for("a").size() == 12);
    for (const char* bad : {"", "iso8583:", "iso8583:0100", "other:0100:000001:1126091500:X:T",
                             "iso8583:0100:00001:1126091500:X:T", "iso8583:0100:000001:1126091500:X:T:A:B"})
        CHECK_FALSE(parse_channel_ref(bad));
    const OriginalData longest{"0200", "999999", "1231235959", "ZZZZZZZZZZZZ", "ZZZZZZZZ", "", "ZZZZZZ"};
    CHECK(format_channel_ref(longest).size() <= 64);  // docs/design.md, "Messages": channel_ref fits original.channel_ref
}

TEST_CASE("iso8583: channel settings are validated with file, line and column") {
    const std::string base = R"(kafka: {bootstrap_servers: x, topics: {}}
security: {keys_file: k}
router: {routes: [{name: r, plan: [eu]}]}
risk: {}
channels:
  - id: eu
    kind: iso8583
)";
    const std::string layout = "    layout: " + std::string(TURNOUT_SOURCE_DIR) + "/config/iso8583/iso87-ascii.yaml\n";
    struct Case {
        std::string settings;
        const char* error;
    };
    const Case cases[] = {
        {layout, "needs endpoint: HOST:PORT"},
        {layout + "    endpoint: nowhere\n", "t.yaml:9:15: endpoint must be HOST:PORT"},
        {layout + "    endpoint: 127.0.0.1:1\n    length_header: ascii2\n", "length_header must be binary2, binary4 or ascii4"},
        {layout + "    endpoint: 127.0.0.1:1\n    connections: 0\n", "connections must be an integer 1..64"},
        {layout + "    endpoint: 127.0.0.1:1\n    capture_mti: \"0100\"\n", "capture_mti must be"},
        {layout + "    endpoint: 127.0.0.1:1\n    acquirer_id: abc\n", "acquirer_id must be 1..11 digits"},
        {layout + "    endpoint: 127.0.0.1:1\n    colour: red\n", "unknown key `colour` for iso8583 channel `eu`"},
        {"    endpoint: 127.0.0.1:1\n    layout: {fields: {2: {type: n, length: 19, prefix: LL}}}\n", "lacks field 3"},
        {"    endpoint: 127.0.0.1:1\n    layout: /nonexistent/layout.yaml\n", "cannot read the ISO 8583 layout file"},
        {layout + "    endpoint: 127.0.0.1:1\n    journal_dir: \"\"\n", "journal_dir must be a directory path, or none"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.settings);
        try {
            validate_channels(parse_config(base + c.settings, "t.yaml"));
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(c.error) != std::string::npos, e.what());
        }
    }
    CHECK_NOTHROW(validate_channels(parse_config(base + layout + "    endpoint: 127.0.0.1:1\n", "t.yaml")));
    {
        const auto cfg = parse_config(base + layout + "    endpoint: 127.0.0.1:1\n    journal_dir: none\n", "t.yaml");
        CHECK(parse_channel_settings(*cfg.channel("eu")).journal_dir.empty());
        const auto dflt = parse_config(base + layout + "    endpoint: 127.0.0.1:1\n", "t.yaml");
        CHECK(parse_channel_settings(*dflt.channel("eu")).journal_dir == "var/iso8583");
    }
    // The jPOS layout has every field the connector sends.
    CHECK_NOTHROW(validate_channels(parse_config(
        base + "    layout: " + std::string(TURNOUT_SOURCE_DIR) + "/config/iso8583/iso87-jpos.yaml\n    endpoint: 127.0.0.1:1\n",
        "t.yaml")));
    // The shipped config's channels validate.
    CHECK_NOTHROW(validate_channels(load_config(std::string(TURNOUT_SOURCE_DIR) + "/config/turnout.yaml")));
}

TEST_CASE("iso8583: a 0410's field 39 decides what a reversal says about its original") {
    using V = ReversalVerdict;
    struct Case {
        const char* code;
        V verdict;
        const char* why;
    };
    const Case cases[] = {
        {"00", V::reversed, "approved: the original is undone"},
        {"25", V::original_not_found, "unable to locate the original: never executed"},
        {"21", V::unknown, "no action taken: the original may still be live"},
        {"96", V::unknown, "system malfunction"},
        {"91", V::unknown, "issuer or switch inoperative"},
        {"94", V::unknown, "duplicate transmission says nothing of the outcome"},
        {"12", V::unknown, "invalid transaction"},
        {"30", V::unknown, "format error"},
        {"05", V::unknown, "do not honor"},
        {"", V::unknown, "no response code"},
        {"0", V::unknown, "truncated"},
        {"000", V::unknown, "too long"},
        {" 0", V::unknown, "padded"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.why);
        CHECK(reversal_verdict(c.code) == c.verdict);
    }
}

TEST_CASE("iso8583: a reversal carries its original's terminal, STAN and time in fields 41 and 90") {
    IsoMessage req;
    req.mti = "0200";
    req.set(4, "000000001000");
    req.set(32, "12345678");
    req.set(37, "ABCDEF123456");
    stamp(req, 4242, "TNORIG01", 1'795'000'000'000);
    const auto rev = reversal_for(req);
    CHECK(rev.mti == "0400");
    CHECK(rev.get(41) == "TNORIG01");
    CHECK(rev.get(90) == "0200" "004242" + req.get(7) + "00012345678" "00000000000");
    CHECK_FALSE(rev.has(11));  // the reversal's own STAN is given when it is sent
}

TEST_CASE("iso8583: the jPOS ISO87APackager layout differs from ISO 8583:1987 at fields 65, 93, 96") {
    const Layout jpos = load_layout_file(std::string(TURNOUT_SOURCE_DIR) + "/config/iso8583/iso87-jpos.yaml");
    IsoMessage m;
    m.mti = "0410";
    m.set(11, "000001");
    m.set(39, "00");
    m.set(65, std::string(1, '\x01'));                        // IFA_BINARY(1): 2 hex characters
    m.set(93, "ABC123");                                      // IF_CHAR(6)
    m.set(96, std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef", 16));  // IFA_BINARY(16)
    std::string error;
    const auto packed = pack(jpos, m, &error);
    REQUIRE_MESSAGE(packed, error);
    const std::string wire = text(*packed);
    // MTI, primary bitmap (1, 11, 39), secondary bitmap (65, 93, 96), 11, 39, 65, 93, 96.
    CHECK(wire == "0410" "8020000002000000" "8000000900000000" "000001" "00" "01" "ABC123"
                  "0123456789ABCDEF0123456789ABCDEF");
    const auto back = unpack(jpos, *packed, &error);
    REQUIRE_MESSAGE(back, error);
    CHECK(back->fields == m.fields);
    // The ISO 8583:1987 layout reads the same bytes otherwise (65: 8 bytes, 93: 5, 96: 8):
    // the reply does not come back as it was sent.
    const auto as_iso = unpack(iso87(), *packed, &error);
    CHECK((!as_iso || as_iso->fields != m.fields));
    // Fields 65, 93, 96 as ISO 8583:1987 and pyiso8583's default_ascii have them.
    IsoMessage std87 = m;
    std87.set(65, std::string(8, '\x01'));
    std87.set(93, "ABC12");
    std87.set(96, std::string(8, '\x7f'));
    const auto p87 = pack(iso87(), std87, &error);
    REQUIRE_MESSAGE(p87, error);
    const auto b87 = unpack(iso87(), *p87, &error);
    REQUIRE_MESSAGE(b87, error);
    CHECK(b87->fields == std87.fields);
    CHECK_FALSE(pack(jpos, std87, nullptr));  // 8 bytes do not fit jPOS's field 65
}

TEST_CASE("iso8583: the in-doubt journal keeps what was not forgotten, across processes") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("turnout-journal-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(std::random_device{}()));
    fs::remove_all(dir);
    const int64_t now = 1'795'000'000'000;
    auto entry = [&](const std::string& id, const std::string& stan) {
        return JournalEntry{id, "0200", stan, "1126091500", "TNAB12CD", "12345678", now};
    };
    std::string error;
    {
        auto j = Journal::open(dir.string(), "acq-eu", now, 0, &error);
        REQUIRE_MESSAGE(j, error);
        CHECK(j->recovered().empty());
        REQUIRE(j->record({entry("p-1", "000001"), entry("p-2", "000002"), entry("p-3", "000003")}, &error));
        j->forget({"p-2"});
        // A second process of the channel gets its own file while the first holds its lock.
        auto other = Journal::open(dir.string(), "acq-eu", now, 0, &error);
        REQUIRE_MESSAGE(other, error);
        CHECK(other->path() != j->path());
        CHECK(other->recovered().empty());
        REQUIRE(other->record({entry("q-1", "000004")}, &error));
        // Both die without forgetting; a torn line (death while appending) follows.
        std::ofstream(j->path(), std::ios::app) << "S p-9 0200 0000";
    }
    auto j = Journal::open(dir.string(), "acq-eu", now + 1000, 0, &error);
    REQUIRE_MESSAGE(j, error);
    const auto& r = j->recovered();
    CHECK(r.size() == 3);  // p-1, p-3 and q-1 adopted from the other file; p-2 forgotten; p-9 torn
    REQUIRE(r.count("p-1"));
    CHECK(r.at("p-1").stan == "000001");
    CHECK(r.at("p-1").terminal == "TNAB12CD");
    CHECK(r.at("p-1").transmission == "1126091500");
    CHECK(r.at("p-1").acquirer == "12345678");
    CHECK(r.count("p-3"));
    CHECK(r.count("q-1"));
    CHECK_FALSE(r.count("p-2"));
    CHECK_FALSE(r.count("p-9"));
    j->forget({"p-1", "q-1"});
    CHECK(j->live() == 1);
    j.reset();
    auto again = Journal::open(dir.string(), "acq-eu", now + 2000, 0, &error);
    REQUIRE_MESSAGE(again, error);
    CHECK(again->recovered().size() == 1);
    CHECK(again->recovered().count("p-3"));
    again.reset();
    // Entries older than the keep time are dropped.
    auto expired = Journal::open(dir.string(), "acq-eu", now + 10'000, 5'000, &error);
    REQUIRE_MESSAGE(expired, error);
    CHECK(expired->recovered().empty());
    expired.reset();
    // Lines that are not entries are refused, not guessed at.
    JournalEntry e;
    std::string removed;
    for (const char* bad : {"", "X p-1", "S p-1 0200 000001", "S p-1 0200 01 1126091500 T 1 5", "D", "D a b",
                            "S p-1 0200 000001 1126091500 TN 123 notanumber"})
        CHECK_FALSE(parse_journal_line(bad, &e, &removed));
    std::string line = format_journal_entry(entry("p-7", "000007"));
    line.pop_back();  // the newline
    REQUIRE(parse_journal_line(line, &e, &removed));
    CHECK(e.payment_id == "p-7");
    CHECK(removed.empty());
    REQUIRE(parse_journal_line("D p-7", &e, &removed));
    CHECK(removed == "p-7");
    fs::remove_all(dir);
}
