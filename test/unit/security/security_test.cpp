// Card data protection: sealing, fingerprints, masking, Luhn.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "security/card_vault.hpp"

using namespace turnout;

namespace {
const SealScope kP1{kPanField, "p-1"};

VaultKeys test_keys() {
    VaultKeys k;
    Key256 a{}, b{};
    a.fill(1);
    b.fill(2);
    k.pan_keys = {{"k1", a}, {"k2", b}};
    k.active_pan_key = "k2";
    k.fingerprint_key.fill(7);
    return k;
}
}  // namespace

TEST_CASE("sealed PAN opens with its key id and not when tampered") {
    CardVault v(test_keys());
    const auto s = v.seal("4111111111111111", kP1);
    CHECK(s.key_id == "k2");
    CHECK(s.ciphertext.find("4111111111111111") == std::string::npos);
    CHECK(v.open(s, kP1) == "4111111111111111");
    auto tampered = s;
    tampered.ciphertext[2] = tampered.ciphertext[2] == 'A' ? 'B' : 'A';
    CHECK(v.open(tampered, kP1) == std::nullopt);
    auto wrong_kid = s;
    wrong_kid.key_id = "k1";  // the key id is authenticated
    CHECK(v.open(wrong_kid, kP1) == std::nullopt);
    CHECK(v.seal("4111111111111111", kP1).nonce != s.nonce);
}

TEST_CASE("rotation: an envelope sealed under an older key still opens") {
    auto keys = test_keys();
    keys.active_pan_key = "k1";
    const auto old = CardVault(keys).seal("5500000000000004", kP1);
    CHECK(CardVault(test_keys()).open(old, kP1) == "5500000000000004");
}

TEST_CASE("fingerprints are stable, keyed and kind-separated") {
    CardVault v(test_keys());
    CHECK(v.fingerprint("card", "4111111111111111") == v.fingerprint("card", "4111111111111111"));
    CHECK(v.fingerprint("card", "4111111111111111") != v.fingerprint("card_token", "4111111111111111"));
    auto other = test_keys();
    other.fingerprint_key.fill(8);
    CHECK(CardVault(other).fingerprint("card", "4111111111111111") != v.fingerprint("card", "4111111111111111"));
    CHECK(v.fingerprint("card", "x").size() == 32);
}

TEST_CASE("protect_instrument leaves no clear PAN") {
    CardVault v(test_keys());
    Instrument in;
    in.kind = InstrumentKind::card;
    in.pan = "4242424242424242";
    in.expiry = "2812";
    protect_instrument(in, v, "p-1");
    CHECK(in.pan.empty());
    CHECK(in.bin == "424242");
    CHECK(in.last4 == "4242");
    REQUIRE(in.sealed_pan);
    CHECK(v.open(*in.sealed_pan, kP1) == "4242424242424242");
}

TEST_CASE("Luhn and masking") {
    const std::pair<const char*, bool> cases[] = {{"4111111111111111", true},  {"4111111111111112", false},
                                                  {"79927398713", true},       {"0", true},
                                                  {"41111111111111a1", false}, {"", false}};
    for (const auto& [pan, ok] : cases) CHECK_MESSAGE(luhn_valid(pan) == ok, pan);
    CHECK(mask_pan("4111111111111111") == "411111******1111");
}

TEST_CASE("base64 round trip for every length") {
    std::string s;
    for (int i = 0; i < 40; ++i) {
        CHECK(base64_decode(base64_encode(s)) == s);
        s += static_cast<char>(i * 37);
    }
}

#include "metrics/log.hpp"

TEST_CASE("log helpers: JSON escaping and trace ids") {
    CHECK(json_escape("a\"b\\c\nd\x01") == "a\\\"b\\\\c\\nd\\u0001");
    CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(trace_id_of("garbage").empty());
}

TEST_CASE("rotation through the keys file: a new current key is added, old envelopes still open") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("turnout-keys-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string k1 = "fe376360888fa99dd2be657f69d510f9fd9170fbf2c7e39df1b43a26d7efa403";
    const std::string k2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const std::string fp = "b69e354b704772a975919b92d7d272fcd565422a6c98c581d23b16b9db5cf19d";
    std::ofstream(dir / "before.yaml") << "pan_keys:\n  - {id: k-2026-10, key_hex: " << k1
                                       << "}\nactive_pan_key: k-2026-10\nfingerprint_key_hex: " << fp << "\n";
    std::ofstream(dir / "after.yaml") << "pan_keys:\n  - {id: k-2026-10, key_hex: " << k1
                                      << "}\n  - {id: k-2026-11, key_hex: " << k2
                                      << "}\nactive_pan_key: k-2026-11\nfingerprint_key_hex: " << fp << "\n";
    // Key files are private to their owner (a file others may read is refused).
    fs::permissions(dir / "before.yaml", fs::perms::owner_read | fs::perms::owner_write);
    fs::permissions(dir / "after.yaml", fs::perms::owner_read | fs::perms::owner_write);
    const CardVault before(load_vault_keys((dir / "before.yaml").string()));
    const CardVault after(load_vault_keys((dir / "after.yaml").string()));
    const auto old_envelope = before.seal("4111111111111111", kP1);
    const auto new_envelope = after.seal("4111111111111111", kP1);
    CHECK(old_envelope.key_id == "k-2026-10");
    CHECK(new_envelope.key_id == "k-2026-11");
    CHECK(after.open(old_envelope, kP1) == "4111111111111111");
    CHECK(after.open(new_envelope, kP1) == "4111111111111111");
    // A vault that never had the new key cannot open what was sealed under it.
    CHECK(before.open(new_envelope, kP1) == std::nullopt);
    // Fingerprints do not change with the PAN key: instruments still match after rotation.
    CHECK(before.fingerprint("card", "4111111111111111") == after.fingerprint("card", "4111111111111111"));
    fs::remove_all(dir);
}
