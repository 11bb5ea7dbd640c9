#pragma once
// Where card-data and signing keys live (docs/security.md "Keys"). A KeyProvider performs the
// few operations Turnout needs under a named data key; the keys themselves stay inside it:
//   file    — security.keys_file, keys in process memory (development);
//   pkcs11  — data keys wrapped by a key-encryption key that never leaves a PKCS#11 token,
//             unwrapped into the token as non-extractable session keys (security/pkcs11.hpp).
// A process loads only the keys its roles use (KeyUse), so risk, state and the gateway hold
// none, settlement holds only the clearing-file signing key.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace turnout {

struct Config;

enum KeyUse : unsigned {
    kSealPan = 1,       // router: seal card numbers and dead-lettered requests
    kOpenPan = 2,       // ISO 8583 connector (field 2), `turnout dlq`
    kFingerprint = 4,   // router: instrument fingerprints
    kSettlement = 8,    // settlement and `turnout reconcile`: clearing-file signatures
    kIsoMac = 16,       // ISO 8583 connector (and its host simulator): MAC keys of fields 64/128
    kPin = 32,          // ISO 8583 connector with a pin_key (and its simulator): PIN keys (field 52)
};

using Nonce96 = std::array<uint8_t, 12>;
using Mac256 = std::array<uint8_t, 32>;

class KeyProvider {
public:
    virtual ~KeyProvider() = default;
    virtual const char* kind() const = 0;  // "file" | "pkcs11"
    // The PAN key new seals use; empty when the provider was loaded without kSealPan.
    virtual const std::string& active_pan_key() const = 0;
    // AES-256-GCM under PAN key `key_id` with a 128-bit tag: returns ciphertext || tag.
    // Throws std::runtime_error when the key is not loaded or the operation fails.
    virtual std::string gcm_seal(const std::string& key_id, const Nonce96& nonce, std::string_view aad,
                                 std::string_view plaintext) const = 0;
    // nullopt when the key is unknown or the tag does not verify.
    virtual std::optional<std::string> gcm_open(const std::string& key_id, const Nonce96& nonce, std::string_view aad,
                                                std::string_view ciphertext_and_tag) const = 0;
    // HMAC-SHA256 under the fingerprint key / the clearing-file signing key. Throws when the
    // key was not loaded.
    virtual Mac256 fingerprint_mac(std::string_view message) const = 0;
    virtual Mac256 settlement_mac(std::string_view message) const = 0;
    // The 8-byte MAC of `data` under MAC key `key_id`, with that key's algorithm
    // (security/message_mac.hpp); nullopt when the key is not loaded.
    virtual std::optional<std::array<uint8_t, 8>> mac8(const std::string& key_id, std::span<const uint8_t> data) const = 0;
    // PIN keys (security/pin_block.hpp): the block size of `key_id` — 8 for a double-length
    // triple-DES key (ISO 9564 format 0), 16 for AES (format 4), 0 when it is not loaded —
    // and one block under it in ECB mode, enciphered or deciphered; false on failure.
    virtual size_t pin_block_size(const std::string& key_id) const = 0;
    virtual bool pin_cipher(const std::string& key_id, bool encrypt, const uint8_t* in, uint8_t* out) const = 0;
    // The acquiring zone's PIN key, under which PIN blocks arrive in requests; empty when
    // none is loaded.
    virtual const std::string& acquiring_pin_key() const = 0;
    // `block` (a PIN block under the acquiring zone key, for card `pan`) under PIN key
    // `to_key` in its format; nullopt + why when it does not translate. By default the PIN
    // passes through this process (translate_pin_in_memory over pin_cipher); a provider over
    // a payment HSM overrides it with the HSM's own translate command.
    virtual std::optional<std::vector<uint8_t>> translate_pin(const std::vector<uint8_t>& block, const std::string& to_key,
                                                              std::string_view pan, std::string* why) const;
    virtual bool has(KeyUse use) const = 0;
};

// What a set of roles needs: "router" → seal + fingerprint, "settlement" → settlement,
// "connector" of an iso8583 channel → open, MAC keys when it has a `mac_key`, PIN keys when
// it has a `pin_key`; anything else → nothing.
unsigned key_uses_of_role(const Config& cfg, const std::string& role, const std::string& channel);

// The provider named by security.key_provider with exactly `uses` loaded, or nullptr when
// `uses` is 0 (no key file or token is touched then). `keys_file_override` replaces
// security.keys_file (TURNOUT_KEYS_FILE). Throws ConfigError / std::runtime_error naming
// what is missing.
std::unique_ptr<KeyProvider> load_key_provider(const Config& cfg, unsigned uses,
                                               const std::string& keys_file_override = {});

}  // namespace turnout
