#pragma once
// Message authentication codes of host links (ISO 8583 fields 64/128), with a key in memory:
// the file key provider computes them here; a PKCS#11 provider would in the token.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace turnout {

enum class MacAlgorithm {
    retail_des3,  // ISO 9797-1 MAC algorithm 3 (ANSI X9.19), padding method 1, double-length DES key K1|K2
    aes_cmac,     // AES-CMAC (NIST SP 800-38B, RFC 4493), the leftmost 8 bytes of the tag
};
std::optional<MacAlgorithm> parse_mac_algorithm(std::string_view s);  // "retail-des3" | "aes-cmac"
const char* to_string(MacAlgorithm a);

using Mac8 = std::array<uint8_t, 8>;

// nullopt when the key's size does not fit the algorithm (retail_des3: 16 bytes; aes_cmac:
// 16, 24 or 32 bytes).
std::optional<Mac8> retail_mac(std::span<const uint8_t> key, std::span<const uint8_t> data);
std::optional<Mac8> aes_cmac8(std::span<const uint8_t> key, std::span<const uint8_t> data);
std::optional<Mac8> message_mac(MacAlgorithm a, std::span<const uint8_t> key, std::span<const uint8_t> data);

// ISO 9797-1 algorithm 3 over block operations under K1|K2 wherever the key lives:
// `chain_k1` encrypts whole 8-byte blocks under K1 in CBC mode with a zero IV (the output is
// as long as the input); `final_k1k2` encrypts one block with two-key triple DES (e_K1 d_K2
// e_K1). Either returns false on failure. Padding method 1.
using BlockOp = bool (*)(const void* ctx, const uint8_t* in, size_t n, uint8_t* out);
std::optional<Mac8> retail_mac_with(const void* ctx, BlockOp chain_k1, BlockOp final_k1k2, std::span<const uint8_t> data);

// Whole blocks in ECB mode under `key`: two-key triple DES (a 16-byte key K1|K2, 8-byte
// blocks) or AES (16, 24 or 32-byte key, 16-byte blocks). false when the sizes do not fit.
enum class BlockCipher { tdes2, aes };
bool ecb_blocks(BlockCipher c, std::span<const uint8_t> key, bool encrypt, const uint8_t* in, size_t n, uint8_t* out);

// The key check value a key custodian compares: the leftmost 3 bytes of a zero block
// encrypted under the key.
using CheckValue = std::array<uint8_t, 3>;
std::optional<CheckValue> key_check_value(BlockCipher c, std::span<const uint8_t> key);
inline BlockCipher cipher_of(MacAlgorithm a) { return a == MacAlgorithm::retail_des3 ? BlockCipher::tdes2 : BlockCipher::aes; }

}  // namespace turnout
