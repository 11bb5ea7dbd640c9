#include "security/message_mac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace turnout {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// Fetched once: OpenSSL 3's implicit fetch on every call takes global locks.
enum class Mode { cbc, ecb };
const EVP_CIPHER* cipher(Mode m) {
    static EVP_CIPHER* cbc = EVP_CIPHER_fetch(nullptr, "DES-EDE-CBC", nullptr);
    static EVP_CIPHER* ecb = EVP_CIPHER_fetch(nullptr, "DES-EDE-ECB", nullptr);
    return m == Mode::cbc ? cbc : ecb;
}

// Two-key triple DES (EDE) under k1|k2 over whole blocks, no padding, zero IV for CBC. Single
// DES under K is the same with k1 = k2 = K (OpenSSL 3 keeps single DES in its legacy
// provider only).
bool ede(Mode mode, const uint8_t* k1, const uint8_t* k2, const uint8_t* in, size_t n, uint8_t* out) {
    uint8_t key[16];
    std::copy(k1, k1 + 8, key);
    std::copy(k2, k2 + 8, key + 8);
    const uint8_t iv[8] = {};
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    const EVP_CIPHER* c = cipher(mode);
    int len = 0;
    const bool ok = ctx && c && EVP_EncryptInit_ex2(ctx.get(), c, key, iv, nullptr) == 1 &&
                    EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
                    EVP_EncryptUpdate(ctx.get(), out, &len, in, static_cast<int>(n)) == 1 && static_cast<size_t>(len) == n;
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

}  // namespace

std::optional<MacAlgorithm> parse_mac_algorithm(std::string_view s) {
    if (s == "retail-des3") return MacAlgorithm::retail_des3;
    if (s == "aes-cmac") return MacAlgorithm::aes_cmac;
    return std::nullopt;
}

const char* to_string(MacAlgorithm a) { return a == MacAlgorithm::retail_des3 ? "retail-des3" : "aes-cmac"; }

std::optional<Mac8> retail_mac_with(const void* ctx, BlockOp chain_k1, BlockOp final_k1k2, std::span<const uint8_t> data) {
    // Padding method 1: zeros up to a multiple of 8 (none added to a whole block; an empty
    // message is one zero block).
    const size_t blocks = data.empty() ? 1 : (data.size() + 7) / 8;
    std::vector<uint8_t> padded(blocks * 8, 0);
    std::copy(data.begin(), data.end(), padded.begin());
    // CBC under K1 over every block but the last; the last goes through output
    // transformation 3 with the chain: e_K1(d_K2(e_K1(x_q xor H_q-1))), two-key triple DES.
    uint8_t h[8] = {};
    if (blocks > 1) {
        std::vector<uint8_t> chained(padded.size() - 8);
        if (!chain_k1(ctx, padded.data(), chained.size(), chained.data())) return std::nullopt;
        std::copy(chained.end() - 8, chained.end(), h);
    }
    uint8_t x[8];
    for (int i = 0; i < 8; ++i) x[i] = padded[(blocks - 1) * 8 + i] ^ h[i];
    if (!final_k1k2(ctx, x, 8, h)) return std::nullopt;
    Mac8 out;
    std::copy(h, h + 8, out.begin());
    return out;
}

std::optional<Mac8> retail_mac(std::span<const uint8_t> key, std::span<const uint8_t> data) {
    if (key.size() != 16) return std::nullopt;
    return retail_mac_with(
        key.data(),
        [](const void* k, const uint8_t* in, size_t n, uint8_t* out) {
            const auto* k1 = static_cast<const uint8_t*>(k);
            return ede(Mode::cbc, k1, k1, in, n, out);
        },
        [](const void* k, const uint8_t* in, size_t n, uint8_t* out) {
            const auto* k1 = static_cast<const uint8_t*>(k);
            return ede(Mode::ecb, k1, k1 + 8, in, n, out);
        },
        data);
}

bool ecb_blocks(BlockCipher c, std::span<const uint8_t> key, bool encrypt, const uint8_t* in, size_t n, uint8_t* out) {
    const char* name = nullptr;
    size_t block = 16;
    if (c == BlockCipher::tdes2) name = key.size() == 16 ? "DES-EDE-ECB" : nullptr, block = 8;
    else name = key.size() == 16 ? "AES-128-ECB" : key.size() == 24 ? "AES-192-ECB" : key.size() == 32 ? "AES-256-ECB" : nullptr;
    if (!name || n == 0 || n % block != 0) return false;
    static EVP_CIPHER* tdes = EVP_CIPHER_fetch(nullptr, "DES-EDE-ECB", nullptr);
    static EVP_CIPHER* aes[3] = {EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr),
                                 EVP_CIPHER_fetch(nullptr, "AES-192-ECB", nullptr),
                                 EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr)};
    const EVP_CIPHER* cipher = c == BlockCipher::tdes2 ? tdes : aes[(key.size() - 16) / 8];
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0;
    return cipher && ctx && EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), nullptr, encrypt ? 1 : 0, nullptr) == 1 &&
           EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
           EVP_CipherUpdate(ctx.get(), out, &len, in, static_cast<int>(n)) == 1 && static_cast<size_t>(len) == n;
}

std::optional<CheckValue> key_check_value(BlockCipher c, std::span<const uint8_t> key) {
    const uint8_t zero[16] = {};
    uint8_t block[16];
    if (!ecb_blocks(c, key, true, zero, c == BlockCipher::tdes2 ? 8 : 16, block)) return std::nullopt;
    return CheckValue{block[0], block[1], block[2]};
}

std::optional<Mac8> aes_cmac8(std::span<const uint8_t> key, std::span<const uint8_t> data) {
    const char* cipher = key.size() == 16 ? "AES-128-CBC" : key.size() == 24 ? "AES-192-CBC" : key.size() == 32 ? "AES-256-CBC" : nullptr;
    if (!cipher) return std::nullopt;
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(mac ? EVP_MAC_CTX_new(mac) : nullptr, EVP_MAC_CTX_free);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, const_cast<char*>(cipher), 0),
                           OSSL_PARAM_construct_end()};
    uint8_t tag[16];
    size_t len = 0;
    if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
        EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 || EVP_MAC_final(ctx.get(), tag, &len, sizeof tag) != 1 ||
        len != 16)
        return std::nullopt;
    Mac8 out;
    std::copy(tag, tag + 8, out.begin());
    return out;
}

}  // namespace turnout

namespace turnout {
std::optional<Mac8> message_mac(MacAlgorithm a, std::span<const uint8_t> key, std::span<const uint8_t> data) {
    return a == MacAlgorithm::retail_des3 ? retail_mac(key, data) : aes_cmac8(key, data);
}
}  // namespace turnout
