#include "security/message_mac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>

namespace turnout {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// One block under two-key triple DES (EDE) with keys k1|k2, ECB. Single DES under K is the
// same with k1 = k2 = K (OpenSSL 3 keeps single DES in its legacy provider only).
bool ede_block(const uint8_t* k1, const uint8_t* k2, const uint8_t in[8], uint8_t out[8]) {
    uint8_t key[16];
    std::copy(k1, k1 + 8, key);
    std::copy(k2, k2 + 8, key + 8);
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "DES-EDE-ECB", nullptr);
    int len = 0;
    const bool ok = ctx && c && EVP_EncryptInit_ex2(ctx.get(), c, key, nullptr, nullptr) == 1 &&
                    EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 && EVP_EncryptUpdate(ctx.get(), out, &len, in, 8) == 1 &&
                    len == 8;
    EVP_CIPHER_free(c);
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

std::optional<Mac8> retail_mac(std::span<const uint8_t> key, std::span<const uint8_t> data) {
    if (key.size() != 16) return std::nullopt;
    const uint8_t* k1 = key.data();
    const uint8_t* k2 = key.data() + 8;
    // Padding method 1: zeros up to a multiple of 8 (none added to a whole block; an empty
    // message is one zero block).
    const size_t blocks = data.empty() ? 1 : (data.size() + 7) / 8;
    uint8_t h[8] = {};
    for (size_t b = 0; b < blocks; ++b) {
        uint8_t x[8] = {};
        for (size_t i = 0; i < 8 && b * 8 + i < data.size(); ++i) x[i] = data[b * 8 + i];
        for (int i = 0; i < 8; ++i) x[i] ^= h[i];
        // CBC under K1 for every block; the last one goes through the output transformation
        // 3: e_K1(d_K2(e_K1(...))) — two-key triple DES of the chained block.
        const bool last = b + 1 == blocks;
        if (!ede_block(k1, last ? k2 : k1, x, h)) return std::nullopt;
    }
    Mac8 out;
    std::copy(h, h + 8, out.begin());
    return out;
}

std::optional<Mac8> aes_cmac8(std::span<const uint8_t> key, std::span<const uint8_t> data) {
    const char* cipher = key.size() == 16 ? "AES-128-CBC" : key.size() == 24 ? "AES-192-CBC" : key.size() == 32 ? "AES-256-CBC" : nullptr;
    if (!cipher) return std::nullopt;
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(mac ? EVP_MAC_CTX_new(mac) : nullptr, EVP_MAC_CTX_free);
    EVP_MAC_free(mac);
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
