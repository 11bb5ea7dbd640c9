#include "security/card_vault.hpp"
#include "security/pin_block.hpp"
#include "config/secret_file.hpp"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace turnout {
namespace {
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::optional<Key256> parse_key_hex(const std::string& hex) {
    if (hex.size() != 64) return std::nullopt;
    Key256 key{};
    for (size_t i = 0; i < 32; ++i) {
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        key[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return key;
}

const char kHex[] = "0123456789abcdef";
}  // namespace

std::optional<std::vector<uint8_t>> parse_hex_bytes(const std::string& hex) {
    if (hex.empty() || hex.size() % 2) return std::nullopt;
    std::vector<uint8_t> out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        unsigned v = 0;
        for (char c : {hex[2 * i], hex[2 * i + 1]}) {
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
            else return std::nullopt;
        }
        out[i] = static_cast<uint8_t>(v);
    }
    return out;
}


VaultKeys load_vault_keys(const std::string& path, const std::string& setting) {
    check_secret_file(path, setting);
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error(path + ": cannot read keys file: " + e.what());
    }
    auto fail = [&](const YAML::Node& n, const std::string& what) {
        const auto m = n.Mark();
        throw std::runtime_error(path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
                                 ": " + what);
    };
    VaultKeys keys;
    const auto list = root["pan_keys"];
    if (!list || !list.IsSequence() || list.size() == 0) fail(root, "expected a non-empty list `pan_keys`");
    for (const auto& k : list) {
        if (!k["id"] || !k["key_hex"]) fail(k, "each pan key needs `id` and `key_hex`");
        auto key = parse_key_hex(k["key_hex"].as<std::string>());
        if (!key) fail(k["key_hex"], "expected 64 hex digits (AES-256 key)");
        keys.pan_keys[k["id"].as<std::string>()] = *key;
    }
    if (!root["active_pan_key"]) fail(root, "expected `active_pan_key`");
    keys.active_pan_key = root["active_pan_key"].as<std::string>();
    if (!keys.pan_keys.count(keys.active_pan_key))
        fail(root["active_pan_key"], "active_pan_key names no key in pan_keys");
    if (!root["fingerprint_key_hex"]) fail(root, "expected `fingerprint_key_hex`");
    auto fp = parse_key_hex(root["fingerprint_key_hex"].as<std::string>());
    if (!fp) fail(root["fingerprint_key_hex"], "expected 64 hex digits");
    keys.fingerprint_key = *fp;
    if (auto mk = root["mac_keys"]) {
        if (!mk.IsSequence()) fail(mk, "expected a list `mac_keys`");
        for (const auto& k : mk) {
            if (!k["id"] || !k["algorithm"] || !k["key_hex"]) fail(k, "each MAC key needs `id`, `algorithm` and `key_hex`");
            const auto alg = parse_mac_algorithm(k["algorithm"].as<std::string>());
            if (!alg) fail(k["algorithm"], "algorithm must be retail-des3 or aes-cmac");
            auto bytes = parse_hex_bytes(k["key_hex"].as<std::string>());
            const size_t n = bytes ? bytes->size() : 0;
            if (*alg == MacAlgorithm::retail_des3 ? n != 16 : (n != 16 && n != 24 && n != 32))
                fail(k["key_hex"], *alg == MacAlgorithm::retail_des3 ? "retail-des3 needs 32 hex digits (K1|K2)"
                                                                    : "aes-cmac needs 32, 48 or 64 hex digits");
            keys.mac_keys[k["id"].as<std::string>()] = VaultKeys::MacKey{*alg, std::move(*bytes)};
        }
    }
    if (auto pk = root["pin_keys"]) {
        if (!pk.IsSequence()) fail(pk, "expected a list `pin_keys`");
        for (const auto& k : pk) {
            if (!k["id"] || !k["algorithm"] || !k["key_hex"]) fail(k, "each PIN key needs `id`, `algorithm` and `key_hex`");
            const auto alg = k["algorithm"].as<std::string>();
            if (alg != "des3" && alg != "aes") fail(k["algorithm"], "algorithm must be des3 (ISO 9564 format 0) or aes (format 4)");
            auto bytes = parse_hex_bytes(k["key_hex"].as<std::string>());
            const size_t n = bytes ? bytes->size() : 0;
            if (alg == "des3" ? n != 16 : (n != 16 && n != 24 && n != 32))
                fail(k["key_hex"], alg == "des3" ? "des3 needs 32 hex digits (a double-length key)"
                                                 : "aes needs 32, 48 or 64 hex digits");
            keys.pin_keys[k["id"].as<std::string>()] =
                VaultKeys::PinKey{alg == "des3" ? BlockCipher::tdes2 : BlockCipher::aes, std::move(*bytes)};
        }
    }
    if (auto ak = root["acquiring_pin_key"]) {
        keys.acquiring_pin_key = ak.as<std::string>();
        if (!keys.pin_keys.count(keys.acquiring_pin_key)) fail(ak, "acquiring_pin_key names no key in pin_keys");
    }
    if (auto sk = root["settlement_hmac_key_hex"]) {
        auto k = parse_key_hex(sk.as<std::string>());
        if (!k) fail(sk, "expected 64 hex digits for `settlement_hmac_key_hex`");
        keys.settlement_hmac_key = *k;
    }
    return keys;
}

namespace {
std::string to_hex(const uint8_t* p, size_t n) {
    std::string hex(2 * n, '0');
    for (size_t i = 0; i < n; ++i) {
        hex[2 * i] = kHex[p[i] >> 4];
        hex[2 * i + 1] = kHex[p[i] & 15];
    }
    return hex;
}

// Keys in process memory (security.keys_file): development and tests.
class FileKeyProvider final : public KeyProvider {
public:
    FileKeyProvider(VaultKeys keys, unsigned uses) : uses_(uses) {
        if (uses & (kSealPan | kOpenPan)) keys_.pan_keys = std::move(keys.pan_keys);
        if (uses & kSealPan) keys_.active_pan_key = keys.active_pan_key;
        if (uses & kFingerprint) keys_.fingerprint_key = keys.fingerprint_key;
        if (uses & kIsoMac) keys_.mac_keys = std::move(keys.mac_keys);
        if (uses & kPin) {
            keys_.pin_keys = std::move(keys.pin_keys);
            keys_.acquiring_pin_key = keys.acquiring_pin_key;
        }
        if (uses & kSettlement) {
            if (!keys.settlement_hmac_key)
                throw std::runtime_error("the keys file has no `settlement_hmac_key_hex` to sign clearing files with");
            keys_.settlement_hmac_key = keys.settlement_hmac_key;
        }
        cipher_ = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
        mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (!cipher_ || !mac_) throw std::runtime_error("OpenSSL lacks AES-256-GCM or HMAC");
        if (uses & kFingerprint) fingerprint_ctx_ = keyed_hmac(keys_.fingerprint_key);
        if (uses & kSettlement) settlement_ctx_ = keyed_hmac(*keys_.settlement_hmac_key);
    }
    ~FileKeyProvider() override {
        EVP_MAC_CTX_free(fingerprint_ctx_);
        EVP_MAC_CTX_free(settlement_ctx_);
        EVP_MAC_free(mac_);
        EVP_CIPHER_free(cipher_);
        OPENSSL_cleanse(&keys_.fingerprint_key, sizeof keys_.fingerprint_key);
        for (auto& [id, k] : keys_.pan_keys) OPENSSL_cleanse(k.data(), k.size());
    }
    const char* kind() const override { return "file"; }
    bool has(KeyUse use) const override { return (uses_ & use) != 0; }
    const std::string& active_pan_key() const override { return keys_.active_pan_key; }

    std::string gcm_seal(const std::string& key_id, const Nonce96& nonce, std::string_view aad,
                         std::string_view plaintext) const override {
        auto key = keys_.pan_keys.find(key_id);
        if (key == keys_.pan_keys.end()) throw std::runtime_error("no PAN key `" + key_id + "` loaded");
        CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
        std::string out(plaintext.size() + 16, '\0');
        int len = 0, total = 0;
        auto* o = reinterpret_cast<unsigned char*>(out.data());
        if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher_, key->second.data(), nonce.data(), nullptr) != 1 ||
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) != 1 ||
            EVP_EncryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) != 1)
            throw std::runtime_error("AES-GCM encryption failed");
        total = len;
        if (EVP_EncryptFinal_ex(ctx.get(), o + total, &len) != 1) throw std::runtime_error("AES-GCM final failed");
        total += len;
        if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, o + total) != 1)
            throw std::runtime_error("AES-GCM tag failed");
        out.resize(static_cast<size_t>(total) + 16);
        return out;
    }

    std::optional<std::string> gcm_open(const std::string& key_id, const Nonce96& nonce, std::string_view aad,
                                        std::string_view ct) const override {
        auto key = keys_.pan_keys.find(key_id);
        if (key == keys_.pan_keys.end() || ct.size() < 16) return std::nullopt;
        CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
        const size_t body = ct.size() - 16;
        std::string out(body, '\0');
        int len = 0;
        if (!ctx || EVP_DecryptInit_ex2(ctx.get(), cipher_, key->second.data(), nonce.data(), nullptr) != 1 ||
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) != 1 ||
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                              reinterpret_cast<const unsigned char*>(ct.data()), static_cast<int>(body)) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16,
                                const_cast<char*>(ct.data()) + body) != 1 ||
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1)
            return std::nullopt;
        return out;
    }

    Mac256 fingerprint_mac(std::string_view message) const override {
        if (!fingerprint_ctx_) throw std::runtime_error("the fingerprint key is not loaded in this process");
        return mac_of(fingerprint_ctx_, message);
    }
    Mac256 settlement_mac(std::string_view message) const override {
        if (!settlement_ctx_) throw std::runtime_error("the clearing-file signing key is not loaded in this process");
        return mac_of(settlement_ctx_, message);
    }
    std::optional<Mac8> mac8(const std::string& key_id, std::span<const uint8_t> data) const override {
        auto it = keys_.mac_keys.find(key_id);
        if (it == keys_.mac_keys.end()) return std::nullopt;
        return message_mac(it->second.algorithm, it->second.key, data);
    }
    size_t pin_block_size(const std::string& key_id) const override {
        auto it = keys_.pin_keys.find(key_id);
        return it == keys_.pin_keys.end() ? 0 : it->second.cipher == BlockCipher::tdes2 ? 8 : 16;
    }
    bool pin_cipher(const std::string& key_id, bool encrypt, const uint8_t* in, uint8_t* out) const override {
        auto it = keys_.pin_keys.find(key_id);
        if (it == keys_.pin_keys.end()) return false;
        const auto& k = it->second;
        return ecb_blocks(k.cipher, k.key, encrypt, in, k.cipher == BlockCipher::tdes2 ? 8 : 16, out);
    }
    const std::string& acquiring_pin_key() const override { return keys_.acquiring_pin_key; }

private:
    EVP_MAC_CTX* keyed_hmac(const Key256& key) const {
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_);
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
        if (!ctx || EVP_MAC_init(ctx, key.data(), key.size(), params) != 1) {
            EVP_MAC_CTX_free(ctx);
            throw std::runtime_error("cannot initialise HMAC-SHA256");
        }
        return ctx;
    }
    static Mac256 mac_of(EVP_MAC_CTX* keyed, std::string_view message) {
        Mac256 mac{};
        size_t mac_len = 0;
        std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(keyed), EVP_MAC_CTX_free);
        if (!ctx || EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
            EVP_MAC_final(ctx.get(), mac.data(), &mac_len, mac.size()) != 1 || mac_len != mac.size())
            throw std::runtime_error("HMAC-SHA256 failed");
        return mac;
    }

    unsigned uses_;
    VaultKeys keys_;
    // Fetched once: OpenSSL 3's implicit fetch on every call takes global locks.
    EVP_CIPHER* cipher_ = nullptr;
    EVP_MAC* mac_ = nullptr;
    EVP_MAC_CTX* fingerprint_ctx_ = nullptr;
    EVP_MAC_CTX* settlement_ctx_ = nullptr;
};

// The associated data of a "v2" envelope: key id, field and payment_id, each
// length-prefixed so no two different triples give the same bytes.
std::string bound_aad(std::string_view key_id, const SealScope& scope) {
    std::string aad = "turnout-seal-v2";
    for (auto part : {key_id, scope.field, scope.payment_id}) {
        const auto n = static_cast<uint32_t>(part.size());
        for (int shift = 24; shift >= 0; shift -= 8) aad.push_back(static_cast<char>((n >> shift) & 0xff));
        aad.append(part);
    }
    return aad;
}
}  // namespace

std::unique_ptr<KeyProvider> make_file_key_provider(VaultKeys keys, unsigned uses) {
    return std::make_unique<FileKeyProvider>(std::move(keys), uses);
}

namespace {
std::unique_ptr<KeyProvider> all_of(VaultKeys keys) {
    const unsigned uses =
        kSealPan | kOpenPan | kFingerprint | kIsoMac | kPin | (keys.settlement_hmac_key ? kSettlement : 0u);
    return make_file_key_provider(std::move(keys), uses);
}
}  // namespace

CardVault::CardVault(VaultKeys keys) : CardVault(all_of(std::move(keys))) {}

CardVault::CardVault(std::unique_ptr<KeyProvider> provider, SealObserver on_seal)
    : provider_(std::move(provider)), on_seal_(std::move(on_seal)) {
    if (!provider_) throw std::invalid_argument("CardVault needs a key provider");
}

CardVault::~CardVault() = default;

std::optional<std::vector<uint8_t>> CardVault::translate_pin(const std::vector<uint8_t>& block, const std::string& to_key,
                                                             std::string_view pan, std::string* why) const {
    return provider_->translate_pin(block, to_key, pan, why);
}

std::string CardVault::settlement_sign(std::string_view data) const {
    const auto mac = provider_->settlement_mac(data);
    return to_hex(mac.data(), mac.size());
}

SealedData CardVault::seal(std::string_view plaintext, const SealScope& scope) const {
    const auto& kid = provider_->active_pan_key();
    if (kid.empty()) throw std::runtime_error("no PAN key to seal with is loaded in this process");
    Nonce96 nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    auto out = provider_->gcm_seal(kid, nonce, bound_aad(kid, scope), plaintext);
    if (on_seal_) on_seal_(kid);
    return SealedData{kid, base64_encode({reinterpret_cast<const char*>(nonce.data()), nonce.size()}),
                      base64_encode(out), "v2"};
}

std::optional<std::string> CardVault::open(const SealedData& sealed, const SealScope& scope) const {
    auto nonce = base64_decode(sealed.nonce);
    auto ct = base64_decode(sealed.ciphertext);
    if (!nonce || nonce->size() != 12 || !ct || ct->size() < 16) return std::nullopt;
    Nonce96 n{};
    std::copy(nonce->begin(), nonce->end(), n.begin());
    // Envelopes written before binding authenticate the key id only.
    if (sealed.aad.empty()) return provider_->gcm_open(sealed.key_id, n, sealed.key_id, *ct);
    if (sealed.aad != "v2") return std::nullopt;
    return provider_->gcm_open(sealed.key_id, n, bound_aad(sealed.key_id, scope), *ct);
}

std::string CardVault::fingerprint(std::string_view kind, std::string_view value) const {
    std::string msg;
    msg.reserve(kind.size() + 1 + value.size());
    msg.append(kind).append(":").append(value);
    const auto mac = provider_->fingerprint_mac(msg);
    return to_hex(mac.data(), 16);
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * text.size() / 4, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    size_t len = static_cast<size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes; drop them.
    if (!text.empty() && text.back() == '=') --len;
    if (text.size() > 1 && text[text.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

}  // namespace turnout

namespace turnout {
void protect_instrument(Instrument& in, const CardVault& vault, std::string_view payment_id) {
    const SealScope scope{kPanField, payment_id};
    if (in.kind == InstrumentKind::card && !in.pan.empty()) {
        in.fingerprint = vault.fingerprint("card", in.pan);
        in.bin = in.pan.substr(0, 6);
        in.last4 = in.pan.substr(in.pan.size() - 4);
        in.sealed_pan = vault.seal(in.pan, scope);
        // Overwrite before release so the clear PAN does not linger in freed memory.
        std::fill(in.pan.begin(), in.pan.end(), '0');
        in.pan.clear();
    } else if (!in.token.empty()) {
        in.fingerprint = vault.fingerprint(to_string(in.kind), in.token);
        if (in.kind == InstrumentKind::bank_account && in.token.size() > 4) in.last4 = in.token.substr(in.token.size() - 4);
        in.token.clear();
    }
}
}  // namespace turnout
