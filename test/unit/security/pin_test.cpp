// PIN blocks (ISO 9564-1 formats 0 and 4) and their translation from the acquiring zone key
// to a channel's PIN key, with keys in memory (the file provider).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "security/card_vault.hpp"
#include "security/pin_block.hpp"

using namespace turnout;

namespace {
std::vector<uint8_t> hex(const std::string& h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}
std::string hex_of(const std::vector<uint8_t>& v) {
    static const char k[] = "0123456789ABCDEF";
    std::string s;
    for (auto b : v) s += k[b >> 4], s += k[b & 15];
    return s;
}

// The acquiring zone's AES key (format 4) and two channel keys: triple DES (format 0) and AES.
VaultKeys zone_keys() {
    VaultKeys k;
    k.pan_keys["p"] = Key256{};
    k.active_pan_key = "p";
    k.pin_keys["acquiring"] = {BlockCipher::aes, hex("00112233445566778899aabbccddeeff")};
    k.pin_keys["chan-des3"] = {BlockCipher::tdes2, hex("0123456789abcdeffedcba9876543210")};
    k.pin_keys["chan-aes"] = {BlockCipher::aes, hex("ffeeddccbbaa99887766554433221100ffeeddccbbaa9988")};
    k.acquiring_pin_key = "acquiring";
    return k;
}
}  // namespace

TEST_CASE("ISO 9564 format 0: the clear block is the PIN field XOR the PAN field") {
    struct Case {
        const char* pin;
        const char* pan;
        const char* block;  // hex of the clear block; "" = refused
    };
    const Case cases[] = {
        // PIN field 041234FFFFFFFFFF, PAN field 0000 + 111111111111 (12 digits before the check digit)
        {"1234", "4111111111111111", "041225EEEEEEEEEE"},
        // 19-digit PAN: the 12 rightmost digits without the check digit; 12-digit PIN
        {"123456789012", "5432109876543210987", "0C12AC202CA20267"},
        // 12-digit PAN: 11 digits before the check digit, a zero on their left
        {"0000", "123456789012", "040001DCBA9876FE"},
        {"123", "4111111111111111", ""},            // too short
        {"1234567890123", "4111111111111111", ""},  // too long
        {"12a4", "4111111111111111", ""},
        {"1234", "41111111111", ""},  // 11-digit PAN
    };
    for (const auto& c : cases) {
        CAPTURE(c.pin);
        CAPTURE(c.pan);
        const auto block = iso0_block(c.pin, c.pan);
        CHECK(hex_of(block) == c.block);
        if (!block.empty()) CHECK(pin_of_iso0(block.data(), c.pan) == std::string(c.pin));
    }
    // A block read against another card's PAN does not give the PIN back.
    const auto b = iso0_block("1234", "4111111111111111");
    CHECK(pin_of_iso0(b.data(), "4000000000000002") == std::nullopt);
}

TEST_CASE("ISO 9564 format 4: the PIN field, the PAN field and random fill") {
    CHECK(hex_of(iso4_pan_field("123456789012")) == "01234567890120000000000000000000");
    CHECK(hex_of(iso4_pan_field("5432109876543210987")) == "75432109876543210987000000000000");
    CHECK(iso4_pan_field("12345678901").empty());
    const auto f = iso4_pin_field("98765");
    REQUIRE(f.size() == 16);
    CHECK(hex_of(f).substr(0, 16) == "4598765AAAAAAAAA");
    CHECK(pin_of_iso4_field(f.data()) == "98765");
    CHECK(hex_of(iso4_pin_field("98765")).substr(16) != hex_of(f).substr(16));  // the fill is random
    auto bad = f;
    bad[0] = 0x35;  // control nibble 3
    CHECK(pin_of_iso4_field(bad.data()) == std::nullopt);
    bad = f;
    bad[5] = 0xab;  // fill other than A
    CHECK(pin_of_iso4_field(bad.data()) == std::nullopt);
}

TEST_CASE("PIN translation: from the acquiring zone key to a channel's key and format, bound to the card") {
    const CardVault switch_keys(zone_keys());
    const auto& keys = switch_keys.provider();
    const std::string pan = "4111111111111111";
    const auto in = encipher_pin(keys, "acquiring", "4321", pan);
    REQUIRE(in.size() == 16);
    CHECK(encipher_pin(keys, "acquiring", "4321", pan) != in);  // format 4: random fill, never the same block
    for (const char* to : {"chan-des3", "chan-aes"}) {
        CAPTURE(to);
        std::string why;
        const auto out = switch_keys.translate_pin(in, to, pan, &why);
        REQUIRE_MESSAGE(out, why);
        CHECK(out->size() == keys.pin_block_size(to));
        CHECK(decipher_pin(keys, to, *out, pan) == "4321");        // the bank's side
        CHECK(decipher_pin(keys, "acquiring", *out, pan) == std::nullopt);  // not under the zone key
    }
    struct Refused {
        const char* name;
        std::vector<uint8_t> block;
        std::string pan, to;
    };
    auto tampered = in;
    tampered[3] ^= 0x01;
    const std::vector<Refused> refused = {
        {"tampered", tampered, pan, "chan-des3"},
        {"another card", in, "4000000000000002", "chan-des3"},
        {"under the channel key, not the zone's", encipher_pin(keys, "chan-aes", "4321", pan), pan, "chan-des3"},
        {"a format 0 block where the zone key is AES", encipher_pin(keys, "chan-des3", "4321", pan), pan, "chan-aes"},
        {"empty", {}, pan, "chan-des3"},
        {"unknown channel key", in, pan, "chan-xx"},
    };
    for (const auto& r : refused) {
        CAPTURE(r.name);
        std::string why;
        CHECK(switch_keys.translate_pin(r.block, r.to, r.pan, &why) == std::nullopt);
        CHECK(!why.empty());
    }
    // A process whose keys name no acquiring zone key translates nothing.
    auto no_zone = zone_keys();
    no_zone.acquiring_pin_key.clear();
    std::string why;
    CHECK(CardVault(no_zone).translate_pin(in, "chan-des3", pan, &why) == std::nullopt);
    CHECK(why.find("acquiring") != std::string::npos);
}

TEST_CASE("PIN translation from a triple-DES acquiring zone key (format 0) to an AES channel key (format 4)") {
    auto k = zone_keys();
    k.acquiring_pin_key = "chan-des3";  // this zone's terminals send format 0 blocks
    const CardVault switch_keys(k);
    const auto& keys = switch_keys.provider();
    const std::string pan = "5432109876543210987";
    const auto in = encipher_pin(keys, "chan-des3", "271828", pan);
    REQUIRE(in.size() == 8);
    CHECK(encipher_pin(keys, "chan-des3", "271828", pan) == in);  // format 0 is deterministic
    std::string why;
    const auto out = switch_keys.translate_pin(in, "chan-aes", pan, &why);
    REQUIRE_MESSAGE(out, why);
    CHECK(out->size() == 16);
    CHECK(decipher_pin(keys, "chan-aes", *out, pan) == "271828");
    CHECK(decipher_pin(keys, "chan-aes", *out, "5432109876543210995") == std::nullopt);  // format 4: bound to the whole PAN
}
