// MACs of ISO 8583 host links: the algorithms against published vectors, the MAC field, and
// a received message's MAC checked over exactly the bytes it covers.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "iso8583/mac.hpp"
#include "iso8583/message.hpp"
#include "security/card_vault.hpp"

using namespace turnout;
using namespace turnout::iso8583;

namespace {
std::vector<uint8_t> hex(const std::string& h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}
std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string hex_of(const Mac8& m) {
    static const char k[] = "0123456789abcdef";
    std::string s;
    for (auto b : m) s += k[b >> 4], s += k[b & 15];
    return s;
}

Layout test_layout() {
    Layout l = load_layout_file(std::string(TURNOUT_SOURCE_DIR) + "/config/iso8583/iso87-ascii.yaml");
    return l;
}

IsoMessage sale() {
    IsoMessage m;
    m.mti = "0200";
    m.set(2, "4111111111111111");
    m.set(3, "000000");
    m.set(4, "000000001000");
    m.set(11, "000123");
    m.set(41, "TNAB12CD");
    return m;
}
}  // namespace

TEST_CASE("MAC algorithms: published vectors and independent values") {
    const auto x919 = hex("0123456789ABCDEFFEDCBA9876543210");
    struct Case {
        const char* what;
        MacAlgorithm alg;
        std::vector<uint8_t> key, data;
        const char* mac;
    };
    const Case cases[] = {
        // ANSI X9.19 / ISO 9797-1 algorithm 3, "Now is the time for all ".
        {"retail, X9.19 vector", MacAlgorithm::retail_des3, x919, bytes("Now is the time for all "), "a1c72e74ea3fa9b6"},
        // Padding method 1 (zeros) on a partial last block; an empty message is one zero block
        // (values computed with pycryptodome's DES).
        {"retail, padded", MacAlgorithm::retail_des3, x919, bytes("Now is the time for it"), "2e2b1428cc78254f"},
        {"retail, empty", MacAlgorithm::retail_des3, x919, {}, "08d7b4fb629d0885"},
        // RFC 4493 examples 1 and 2 (the leftmost 8 bytes).
        {"cmac, empty", MacAlgorithm::aes_cmac, hex("2b7e151628aed2a6abf7158809cf4f3c"), {}, "bb1d6929e9593728"},
        {"cmac, one block", MacAlgorithm::aes_cmac, hex("2b7e151628aed2a6abf7158809cf4f3c"),
         hex("6bc1bee22e409f96e93d7e117393172a"), "070a16b46b4d4144"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const auto m = message_mac(c.alg, c.key, c.data);
        REQUIRE(m);
        CHECK(hex_of(*m) == c.mac);
    }
    CHECK_FALSE(retail_mac(hex("0123456789ABCDEF"), bytes("x")));            // single-length key
    CHECK_FALSE(aes_cmac8(hex("0123456789ABCDEF0123456789ABCD"), bytes("x")));  // 15 bytes
}

TEST_CASE("a MACed message: field 64 (128 with a secondary bitmap), and any changed byte is caught") {
    const auto layout = test_layout();
    VaultKeys k;
    k.mac_keys["m1"] = {MacAlgorithm::aes_cmac, hex("2b7e151628aed2a6abf7158809cf4f3c")};
    k.mac_keys["m2"] = {MacAlgorithm::retail_des3, hex("0123456789ABCDEFFEDCBA9876543210")};
    const CardVault v(k);
    for (const char* key : {"m1", "m2"}) {
        for (bool secondary : {false, true}) {
            CAPTURE(key);
            CAPTURE(secondary);
            auto m = sale();
            if (secondary) m.set(90, std::string(42, '0'));
            const int f = secondary ? 128 : 64;
            CHECK(mac_field_of(m) == f);
            std::string error;
            auto packed = pack_with_mac(
                layout, m, [&](std::span<const uint8_t> d) { return v.mac8(key, d); }, &error);
            REQUIRE_MESSAGE(packed, error);
            auto back = unpack(layout, *packed, &error);
            REQUIRE(back);
            CHECK(back->get(f).size() == 8);
            const auto view = mac_view(layout, *back, *packed, &error);
            REQUIRE(view);
            CHECK(view->covered.size() == packed->size() - 16);  // ascii-hex b 8
            const auto expected = v.mac8(key, view->covered);
            CHECK(view->carried == std::string(expected->begin(), expected->end()));
            // Every byte the MAC covers is covered: change any one and the code differs.
            int caught = 0;
            for (size_t i = 0; i < view->covered.size(); ++i) {
                std::vector<uint8_t> changed(view->covered.begin(), view->covered.end());
                changed[i] ^= 0x01;
                caught += *v.mac8(key, changed) != *expected;
            }
            CHECK(caught == static_cast<int>(view->covered.size()));
        }
    }
    // A message without a MAC, or with a field after it, has no MAC to check.
    std::string error;
    auto plain = pack(layout, sale(), &error);
    REQUIRE(plain);
    CHECK_FALSE(mac_view(layout, *unpack(layout, *plain, &error), *plain, &error));
    auto odd = sale();
    odd.set(64, std::string(8, 'x'));
    odd.set(70, "301");  // a secondary field after field 64: the MAC belongs in 128
    auto odd_packed = pack(layout, odd, &error);
    REQUIRE(odd_packed);
    CHECK_FALSE(mac_view(layout, *unpack(layout, *odd_packed, &error), *odd_packed, &error));
    // No key, no message.
    CHECK_FALSE(pack_with_mac(
        layout, sale(), [&](std::span<const uint8_t> d) { return v.mac8("nope", d); }, &error));
    // A layout whose field 64 is not fixed b 8 cannot carry one.
    auto bad_layout = layout;
    bad_layout.fields[64].length = 4;
    CHECK(mac_field_bytes(bad_layout, 64) == 0);
    CHECK_FALSE(pack_with_mac(
        bad_layout, sale(), [&](std::span<const uint8_t> d) { return v.mac8("m1", d); }, &error));
}
