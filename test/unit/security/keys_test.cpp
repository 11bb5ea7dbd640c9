// Keys under a PKCS#11 token (SoftHSM2), the key ceremony, the seal binding, seal counts and
// which roles load which keys.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "config/config.hpp"
#include "security/card_vault.hpp"
#include "security/constant_time.hpp"
#include "security/pin_block.hpp"
#include "security/pkcs11.hpp"
#include "security/seal_counter.hpp"

using namespace turnout;
namespace fs = std::filesystem;

namespace {

const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";

// One SoftHSM2 token for the whole test process: the module reads SOFTHSM2_CONF once, at its
// first C_Initialize.
const fs::path& token_dir() {
    static const fs::path dir = [] {
        const fs::path d = fs::temp_directory_path() / ("turnout-keys-test-" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::create_directories(d / "tokens");
        std::ofstream(d / "softhsm2.conf") << "directories.tokendir = " << (d / "tokens").string()
                                           << "\nobjectstore.backend = file\nlog.level = ERROR\n";
        ::setenv("SOFTHSM2_CONF", (d / "softhsm2.conf").c_str(), 1);
        const std::string cmd = "softhsm2-util --init-token --free --label turnout-unit --pin 1234 --so-pin 5678 >/dev/null";
        REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "softhsm2-util (Debian package softhsm2) is needed");
        std::ofstream(d / "pin") << "1234\n";
        fs::permissions(d / "pin", fs::perms::owner_read | fs::perms::owner_write);
        return d;
    }();
    static const struct Cleanup {
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } cleanup;
    return dir;
}

// A key set of its own (file name `name`) on the shared token.
SecurityConfig hsm(const std::string& name) {
    SecurityConfig s;
    s.key_provider = "pkcs11";
    s.pkcs11_module = kModule;
    s.token_label = "turnout-unit";
    s.pin_file = (token_dir() / "pin").string();
    s.key_set_file = (token_dir() / (name + ".yaml")).string();
    s.seal_count_dir = (token_dir() / (name + "-seals")).string();
    fs::remove(s.key_set_file);
    fs::remove_all(s.seal_count_dir);
    return s;
}

Config config_with(const SecurityConfig& s) {
    Config c;
    c.security = s;
    return c;
}

CardVault vault_of(const SecurityConfig& s, unsigned uses) {
    return CardVault(load_key_provider(config_with(s), uses));
}

std::string run(int (*f)(const SecurityConfig&, std::ostream&), const SecurityConfig& s) {
    std::ostringstream out;
    CHECK(f(s, out) == 0);
    return out.str();
}

const SealScope kP1{kPanField, "pay-1"};

}  // namespace

TEST_CASE("pkcs11: keys init makes a KEK the token keeps and data keys wrapped by it") {
    const auto s = hsm("init");
    const auto printed = run(keys_init, s);
    MESSAGE(printed);
    const auto set = read_key_set(s.key_set_file);
    CHECK(set.token_label == "turnout-unit");
    REQUIRE(set.keys.size() == 3);
    for (const auto& k : set.keys) {
        CHECK(k.kek == set.active_kek);
        CHECK(k.wrapped_hex.size() == 80);  // 32-byte key wrapped with padding: 40 bytes
    }
    CHECK(set.active_pan_key == set.first_of("pan")->id);
    // Made once: a second init is refused, the key set untouched.
    std::ostringstream again;
    CHECK_THROWS_WITH_AS(keys_init(s, again), doctest::Contains("exists"), std::runtime_error);
    // The token says the KEK is sensitive, never extractable and only wraps.
    std::ostringstream list;
    CHECK(keys_list(s, "", list) == 0);
    MESSAGE(list.str());
    CHECK(list.str().find("sensitive, never extractable, wrap/unwrap only") != std::string::npos);
    CHECK(list.str().find("VALUE READABLE") == std::string::npos);
    CHECK(list.str().find("seals 0 of 4294967296") != std::string::npos);
}

TEST_CASE("pkcs11: the router seals and cannot open; the ISO connector opens and cannot seal") {
    const auto s = hsm("roles");
    run(keys_init, s);
    const auto router = vault_of(s, kSealPan | kFingerprint);
    const auto iso = vault_of(s, kOpenPan);
    const auto sealed = router.seal("4111111111111111", kP1);
    CHECK(sealed.aad == "v2");
    CHECK(sealed.key_id == read_key_set(s.key_set_file).active_pan_key);
    CHECK(iso.open(sealed, kP1) == "4111111111111111");
    CHECK(router.open(sealed, kP1) == std::nullopt);  // its PAN key may encrypt only
    CHECK_THROWS(iso.seal("4111111111111111", kP1));
    CHECK(router.fingerprint("card", "4111111111111111").size() == 32);
    CHECK(router.fingerprint("card", "4111111111111111") == router.fingerprint("card", "4111111111111111"));
    CHECK_THROWS(iso.fingerprint("card", "4111111111111111"));
    CHECK_THROWS(router.settlement_sign("batch"));
    const auto settlement = vault_of(s, kSettlement);
    CHECK(settlement.settlement_sign("batch").size() == 64);
    CHECK(settlement.settlement_sign("batch") == vault_of(s, kSettlement).settlement_sign("batch"));
    CHECK(settlement.settlement_sign("batch") != settlement.settlement_sign("batcH"));
    CHECK_THROWS(settlement.seal("4111111111111111", kP1));
}

TEST_CASE("pkcs11: an empty value seals and opens (the DLQ envelope of an empty or null record)") {
    const auto s = hsm("empty");
    run(keys_init, s);
    const auto router = vault_of(s, kSealPan | kFingerprint);
    const auto iso = vault_of(s, kOpenPan);
    // A record with no value reaches the router as a string_view without data (librdkafka's
    // payload of a null or empty value): the token must not be handed a null buffer.
    for (std::string_view empty : {std::string_view{}, std::string_view("", 0)}) {
        SealedData sealed;
        REQUIRE_NOTHROW(sealed = router.seal(empty, kP1));
        CHECK(sealed.ciphertext.size() > 0);  // the tag, at least
        CHECK(iso.open(sealed, kP1) == "");
    }
}

TEST_CASE("a sealed card number opens only for the payment and field it was sealed for") {
    const auto s = hsm("bind");
    run(keys_init, s);
    const auto router = vault_of(s, kSealPan | kFingerprint);
    const auto hsm_open = vault_of(s, kOpenPan);
    VaultKeys file_keys;
    file_keys.pan_keys["k1"].fill(3);
    file_keys.active_pan_key = "k1";
    const CardVault file(file_keys);
    struct Case {
        const char* what;
        SealScope sealed_for, opened_as;
        bool opens;
    };
    const Case cases[] = {
        {"same payment and field", {kPanField, "pay-1"}, {kPanField, "pay-1"}, true},
        {"another payment", {kPanField, "pay-1"}, {kPanField, "pay-2"}, false},
        {"a payment whose id extends it", {kPanField, "pay-1"}, {kPanField, "pay-10"}, false},
        {"another field", {kPanField, "pay-1"}, {kDlqField, "pay-1"}, false},
        {"field and id shifted", {"instrument.pa", "npay-1"}, {kPanField, "pay-1"}, false},
        {"dead-letter envelope", {kDlqField, ""}, {kDlqField, ""}, true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const auto a = router.seal("5500000000000004", c.sealed_for);
        CHECK(hsm_open.open(a, c.opened_as).has_value() == c.opens);
        const auto b = file.seal("5500000000000004", c.sealed_for);
        CHECK(file.open(b, c.opened_as).has_value() == c.opens);
        // Dropping the binding marker does not turn a bound envelope into an unbound one.
        auto stripped = b;
        stripped.aad.clear();
        CHECK(file.open(stripped, c.sealed_for) == std::nullopt);
        auto unknown = b;
        unknown.aad = "v3";
        CHECK(file.open(unknown, c.sealed_for) == std::nullopt);
    }
}

TEST_CASE("pkcs11: rotation — new seals use the new key, old envelopes still open, also after a new KEK") {
    const auto s = hsm("rotate");
    run(keys_init, s);
    const auto before = read_key_set(s.key_set_file);
    const auto old_envelope = vault_of(s, kSealPan).seal("4000000000000002", kP1);
    std::ostringstream out;
    CHECK(keys_rotate(s, false, out) == 0);
    MESSAGE(out.str());
    const auto after = read_key_set(s.key_set_file);
    CHECK(after.active_pan_key != before.active_pan_key);
    CHECK(after.keys.size() == 4);
    const auto new_envelope = vault_of(s, kSealPan).seal("4000000000000002", kP1);
    CHECK(new_envelope.key_id == after.active_pan_key);
    CHECK(old_envelope.key_id == before.active_pan_key);
    const auto opener = vault_of(s, kOpenPan);
    CHECK(opener.open(old_envelope, kP1) == "4000000000000002");
    CHECK(opener.open(new_envelope, kP1) == "4000000000000002");
    const auto fp_before = vault_of(s, kFingerprint).fingerprint("card", "4000000000000002");

    std::ostringstream kek_out;
    CHECK(keys_rotate(s, true, kek_out) == 0);
    MESSAGE(kek_out.str());
    const auto rewrapped = read_key_set(s.key_set_file);
    CHECK(rewrapped.active_kek != before.active_kek);
    for (size_t i = 0; i < rewrapped.keys.size(); ++i) {
        CHECK(rewrapped.keys[i].kek == rewrapped.active_kek);
        CHECK(rewrapped.keys[i].wrapped_hex != after.keys[i].wrapped_hex);
    }
    const auto opener2 = vault_of(s, kOpenPan);
    CHECK(opener2.open(old_envelope, kP1) == "4000000000000002");
    CHECK(opener2.open(new_envelope, kP1) == "4000000000000002");
    // The same keys under a new wrapping: fingerprints do not change.
    CHECK(vault_of(s, kFingerprint).fingerprint("card", "4000000000000002") == fp_before);
}

TEST_CASE("pkcs11: clear errors for a wrong PIN, a missing token, a missing key set, a readable PIN file") {
    auto s = hsm("errors");
    run(keys_init, s);
    const fs::path bad_pin = token_dir() / "bad-pin";
    std::ofstream(bad_pin) << "9999\n";
    fs::permissions(bad_pin, fs::perms::owner_read | fs::perms::owner_write);
    struct Case {
        const char* what;
        std::function<void(SecurityConfig&)> change;
        const char* error;
    };
    const Case cases[] = {
        {"wrong PIN", [&](SecurityConfig& c) { c.pin_file = bad_pin.string(); }, "CKR_PIN_INCORRECT"},
        {"no such token", [](SecurityConfig& c) { c.token_label = "nope"; }, "no token `nope`"},
        {"no key set", [](SecurityConfig& c) { c.key_set_file += ".missing"; }, "turnout keys init"},
        {"no module", [](SecurityConfig& c) { c.pkcs11_module = "/nonexistent/p11.so"; }, "cannot load"},
        {"no PIN", [](SecurityConfig& c) { c.pin_file.clear(); }, "TURNOUT_PKCS11_PIN"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        auto changed = s;
        c.change(changed);
        CHECK_THROWS_WITH(load_key_provider(config_with(changed), kOpenPan), doctest::Contains(c.error));
    }
    fs::permissions(bad_pin, fs::perms::group_read, fs::perm_options::add);
    auto readable = s;
    readable.pin_file = bad_pin.string();
    CHECK_THROWS_WITH(load_key_provider(config_with(readable), kOpenPan), doctest::Contains("chmod 600"));
}

TEST_CASE("which roles load which keys") {
    Config cfg;
    cfg.channels.push_back(ChannelConfig{});
    cfg.channels.back().id = "acq";
    cfg.channels.back().kind = "iso8583";
    cfg.channels.push_back(ChannelConfig{});
    cfg.channels.back().id = "psp";
    cfg.channels.back().kind = "http_json";
    const std::tuple<const char*, const char*, unsigned> cases[] = {
        {"router", "", kSealPan | kFingerprint},
        {"risk", "", 0u},
        {"state", "", 0u},
        {"gateway", "", 0u},
        {"settlement", "", kSettlement},
        {"connector", "acq", kOpenPan},
        {"connector", "psp", 0u},
        {"connector", "unknown", 0u},
    };
    for (const auto& [role, channel, uses] : cases) {
        CAPTURE(role);
        CAPTURE(channel);
        CHECK(key_uses_of_role(cfg, role, channel) == uses);
    }
    // No key used: no key file is read at all (risk runs on a host without one).
    cfg.security.keys_file = "/nonexistent/keys.yaml";
    CHECK(load_key_provider(cfg, 0) == nullptr);
    CHECK_THROWS_WITH(load_key_provider(cfg, kSettlement), doctest::Contains("/nonexistent/keys.yaml"));
}

TEST_CASE("the file provider holds only the keys its uses name") {
    VaultKeys k;
    k.pan_keys["k1"].fill(1);
    k.active_pan_key = "k1";
    k.fingerprint_key.fill(2);
    Key256 sk{};
    sk.fill(3);
    k.settlement_hmac_key = sk;
    const CardVault settlement(make_file_key_provider(k, kSettlement));
    CHECK_THROWS(settlement.seal("4111111111111111", kP1));
    CHECK_THROWS(settlement.fingerprint("card", "4111111111111111"));
    const CardVault all(k);
    CHECK(settlement.settlement_sign("x") == all.settlement_sign("x"));
    const CardVault iso(make_file_key_provider(k, kOpenPan));
    CHECK_THROWS(iso.seal("4111111111111111", kP1));
    CHECK(iso.open(all.seal("4111111111111111", kP1), kP1) == "4111111111111111");
}

TEST_CASE("seal counts: reserved on disk ahead of use, summed over processes, kept across restarts") {
    const auto dir = token_dir() / "counter";
    fs::remove_all(dir);
    {
        SealCounter a(dir.string(), "router-0", 100'000, 80);
        for (int i = 0; i < 25; ++i) a.count("pan-1");
        CHECK(a.used("pan-1") == 25);
        CHECK(a.reserved("pan-1") == SealCounter::kBlock);  // on disk before the first seal
        CHECK(SealCounter::totals(dir.string()).at("pan-1") == SealCounter::kBlock);
        for (int64_t i = 25; i <= SealCounter::kBlock; ++i) a.count("pan-1");
        CHECK(a.reserved("pan-1") == 2 * SealCounter::kBlock);
    }
    {
        // A restart (or a crash) resumes from the reservation: never fewer than were made.
        SealCounter again(dir.string(), "router-0", 100'000, 80);
        CHECK(again.used("pan-1") == 2 * SealCounter::kBlock);
        SealCounter other(dir.string(), "router-1", 100'000, 80);
        other.count("pan-1");
        other.count("pan-2");
        const auto totals = SealCounter::totals(dir.string());
        CHECK(totals.at("pan-1") == 3 * SealCounter::kBlock);
        CHECK(totals.at("pan-2") == SealCounter::kBlock);
    }
    // Lines that do not parse are skipped, not trusted.
    std::ofstream(dir / "junk.seals") << "pan-1 -5\npan-1\n 7\npan-1 12x\n";
    CHECK(SealCounter::totals(dir.string()).at("pan-1") == 3 * SealCounter::kBlock);
}

TEST_CASE("pkcs11: seals made through a vault are counted per key") {
    const auto s = hsm("count");
    run(keys_init, s);
    auto counter = std::make_shared<SealCounter>(s.seal_count_dir, "router-t", s.seal_limit, s.seal_warn_percent);
    const CardVault v(load_key_provider(config_with(s), kSealPan),
                      [counter](const std::string& key_id) { counter->count(key_id); });
    for (int i = 0; i < 7; ++i) v.seal("4111111111111111", kP1);
    const auto id = read_key_set(s.key_set_file).active_pan_key;
    CHECK(counter->used(id) == 7);
    std::ostringstream list;
    keys_list(s, "", list);
    CHECK(list.str().find("seals " + std::to_string(SealCounter::kBlock) + " of 4294967296") != std::string::npos);
}

TEST_CASE("constant-time comparison") {
    const std::tuple<std::string, std::string, bool> cases[] = {
        {"", "", true},       {"a", "a", true},        {"abc", "abd", false}, {"abc", "ab", false},
        {"ab", "abc", false}, {"", "a", false},        {std::string("a\0b", 3), std::string("a\0c", 3), false},
        {std::string(64, 'f'), std::string(64, 'f'), true},
    };
    for (const auto& [a, b, eq] : cases) {
        CAPTURE(a);
        CHECK(equal_constant_time(a, b) == eq);
    }
}

namespace {
std::string hex_of(const Mac8& m) {
    static const char* k = "0123456789abcdef";
    std::string s;
    for (auto b : m) s += k[b >> 4], s += k[b & 15];
    return s;
}
std::string xor_hex(const std::string& a, const std::string& b) {
    auto v = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    static const char* k = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < a.size(); ++i) out += k[v(a[i]) ^ v(b[i])];
    return out;
}
}  // namespace

TEST_CASE("pkcs11: ISO 8583 MAC keys imported from two components MAC in the token as the bank's clear copy does") {
    // The bank's copies of two host MAC keys (the simulators' keys file) and the same keys
    // brought into the token by two custodians, each entering one component.
    struct Case {
        const char* id;
        const char* algorithm;
        const char* key_hex;
        const char* component1;
    };
    const Case cases[] = {
        {"acq-eu-mac", "aes-cmac", "790e9c283c96d278f606b8a35dd6497c", "0123456789abcdef0011223344556677"},
        {"acq-us-mac", "retail-des3", "2464439ac72defb423507da9cf33e623", "fedcba98765432100f1e2d3c4b5a6978"},
    };
    const auto s = hsm("mac");
    run(keys_init, s);
    VaultKeys bank;
    bank.pan_keys["unused"] = Key256{};
    bank.active_pan_key = "unused";
    for (const auto& c : cases) {
        std::vector<uint8_t> key;
        for (size_t i = 0; i < std::strlen(c.key_hex); i += 2)
            key.push_back(static_cast<uint8_t>(std::stoi(std::string(c.key_hex + i, 2), nullptr, 16)));
        bank.mac_keys[c.id] = {*parse_mac_algorithm(c.algorithm), key};
        std::istringstream in(std::string(c.component1) + "\n" + xor_hex(c.key_hex, c.component1) + "\n");
        std::ostringstream out;
        CHECK(keys_import(s, {c.id, "mac", c.algorithm, 2, false}, in, out) == 0);
        MESSAGE(out.str());
        const auto kcv = key_check_value(cipher_of(*parse_mac_algorithm(c.algorithm)), key);
        REQUIRE(kcv);
        std::string kcv_hex = hex_of(Mac8{(*kcv)[0], (*kcv)[1], (*kcv)[2]}).substr(0, 6);
        CHECK(out.str().find("check value " + kcv_hex + " imported") != std::string::npos);
        // The same id again is refused; the key set keeps the first.
        std::istringstream again(std::string(c.key_hex) + "\n");
        std::ostringstream out2;
        CHECK_THROWS_WITH(keys_import(s, {c.id, "mac", c.algorithm, 1, false}, again, out2), doctest::Contains("already holds"));
    }
    const auto file = CardVault(make_file_key_provider(bank, kIsoMac));
    auto compare_all = [&](const CardVault& token) {
        for (const auto& c : cases)
            for (size_t n : {0, 1, 7, 8, 9, 16, 63, 64, 65, 300}) {
                CAPTURE(c.id);
                CAPTURE(n);
                std::vector<uint8_t> data(n);
                for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 37 + n);
                const auto a = token.mac8(c.id, data);
                const auto b = file.mac8(c.id, data);
                REQUIRE(a);
                REQUIRE(b);
                CHECK(hex_of(*a) == hex_of(*b));
                data.push_back(0);  // padding method 1: a trailing zero is the same message to the MAC
                if (n % 8 != 0 && std::string(c.algorithm) == "retail-des3") CHECK(hex_of(*token.mac8(c.id, data)) == hex_of(*a));
            }
    };
    compare_all(vault_of(s, kIsoMac));
    // Only a process that uses MAC keys has them; an unknown id has none.
    CHECK_FALSE(vault_of(s, kOpenPan).mac8("acq-eu-mac", {}));
    CHECK_FALSE(vault_of(s, kIsoMac).mac8("acq-xx-mac", {}));
    // A custodian's mistyped component makes another key: its check value and MACs differ.
    {
        std::istringstream in(std::string(cases[0].component1) + "\n" + xor_hex(cases[0].key_hex, cases[1].component1) + "\n");
        std::ostringstream out;
        CHECK(keys_import(s, {"typo-mac", "mac", "aes-cmac", 2}, in, out) == 0);
        const std::vector<uint8_t> msg{1, 2, 3};
        CHECK(hex_of(*vault_of(s, kIsoMac).mac8("typo-mac", msg)) != hex_of(*file.mac8("acq-eu-mac", msg)));
    }
    // Components of the wrong size, or not hex, are refused; nothing is added.
    for (const char* bad : {"0123", "zz0e9c283c96d278f606b8a35dd6497c", "790e9c283c96d278f606b8a35dd6497c00"}) {
        std::istringstream in(std::string(bad) + "\n");
        std::ostringstream out;
        CHECK_THROWS_WITH(keys_import(s, {"bad-mac", "mac", "retail-des3", 1}, in, out), doctest::Contains("hex digits"));
    }
    CHECK(read_key_set(s.key_set_file).find("bad-mac") == nullptr);
    // The keys are wrapped by the KEK, and a new KEK re-wraps them: the MACs do not change.
    std::ostringstream list;
    CHECK(keys_list(s, "", list) == 0);
    MESSAGE(list.str());
    CHECK(list.str().find("retail-des3  check value") != std::string::npos);
    std::ostringstream kek_out;
    CHECK(keys_rotate(s, true, kek_out) == 0);
    compare_all(vault_of(s, kIsoMac));
}

TEST_CASE("pkcs11: PIN blocks translated with both zone PIN keys in the token, as the clear keys do") {
    const auto s = hsm("pin");
    run(keys_init, s);
    VaultKeys clear;
    clear.pan_keys["unused"] = Key256{};
    clear.active_pan_key = "unused";
    auto bytes = [](const std::string& h) {
        std::vector<uint8_t> v;
        for (size_t i = 0; i < h.size(); i += 2) v.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
        return v;
    };
    struct Zone {
        const char* id;
        const char* algorithm;
        const char* key_hex;
        bool acquiring;
    };
    for (const Zone z : {Zone{"zone-acq", "aes", "00112233445566778899aabbccddeeff", true},
                         Zone{"zone-chan", "des3", "0123456789abcdeffedcba9876543210", false}}) {
        clear.pin_keys[z.id] = {std::string(z.algorithm) == "aes" ? BlockCipher::aes : BlockCipher::tdes2, bytes(z.key_hex)};
        std::istringstream in(std::string(z.key_hex) + "\n");
        std::ostringstream out;
        CHECK(keys_import(s, {z.id, "pin", z.algorithm, 1, z.acquiring}, in, out) == 0);
        MESSAGE(out.str());
    }
    clear.acquiring_pin_key = "zone-acq";
    CHECK(read_key_set(s.key_set_file).acquiring_pin_key == "zone-acq");
    const CardVault bank(clear);
    const auto token = vault_of(s, kPin);
    CHECK(token.provider().acquiring_pin_key() == "zone-acq");
    CHECK(token.provider().pin_block_size("zone-acq") == 16);
    CHECK(token.provider().pin_block_size("zone-chan") == 8);
    CHECK(vault_of(s, kOpenPan).provider().pin_block_size("zone-chan") == 0);  // only a PIN channel loads them
    const std::string pan = "4111111111111111";
    for (const char* pin : {"1234", "98765432", "000000000000"}) {
        CAPTURE(pin);
        const auto from_terminal = encipher_pin(bank.provider(), "zone-acq", pin, pan);
        std::string why;
        const auto translated = token.translate_pin(from_terminal, "zone-chan", pan, &why);
        REQUIRE_MESSAGE(translated, why);
        CHECK(decipher_pin(bank.provider(), "zone-chan", *translated, pan) == std::string(pin));
        // Format 0 under the same key and card is deterministic: the clear keys agree byte for byte.
        CHECK(*translated == *bank.translate_pin(from_terminal, "zone-chan", pan, &why));
    }
    // The token's zone key only deciphers, the channel key only enciphers: the connector can
    // neither make blocks under the acquiring key nor read back what it sent.
    CHECK(encipher_pin(token.provider(), "zone-acq", "1234", pan).empty());
    const auto sent = *token.translate_pin(encipher_pin(bank.provider(), "zone-acq", "1234", pan), "zone-chan", pan, nullptr);
    CHECK(decipher_pin(token.provider(), "zone-chan", sent, pan) == std::nullopt);
    CHECK(decipher_pin(bank.provider(), "zone-chan", sent, pan) == "1234");
    auto tampered = encipher_pin(bank.provider(), "zone-acq", "1234", pan);
    tampered[0] ^= 0x80;
    std::string why;
    CHECK_FALSE(token.translate_pin(tampered, "zone-chan", pan, &why));
    // A key form's check value is compared before anything is imported.
    {
        std::istringstream in2("0123456789abcdeffedcba9876543210\n");
        std::ostringstream out2;
        CHECK_THROWS_WITH(keys_import(s, {"kcv-typo", "pin", "des3", 1, false, "000000"}, in2, out2),
                          doctest::Contains("not 000000"));
        CHECK(read_key_set(s.key_set_file).find("kcv-typo") == nullptr);
        std::istringstream in3("0123456789abcdeffedcba9876543210\n");
        CHECK(keys_import(s, {"kcv-ok", "pin", "des3", 1, false, "08D7B4"}, in3, out2) == 0);
    }
    // --acquiring is for PIN keys only; the purpose and algorithm must go together.
    std::istringstream in("00112233445566778899aabbccddeeff\n");
    std::ostringstream out;
    CHECK_THROWS(keys_import(s, {"x", "mac", "aes-cmac", 1, true}, in, out));
    CHECK_THROWS(keys_import(s, {"y", "pin", "retail-des3", 1, false}, in, out));
}
