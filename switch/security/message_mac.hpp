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

}  // namespace turnout
