#pragma once
// Card data protection (DESIGN.md §6): AES-256-GCM envelopes with key ids for the PAN,
// an HMAC-SHA256 fingerprint for matching instruments without the PAN, masking for logs.
#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "model/payment.hpp"

namespace turnout {

bool luhn_valid(std::string_view digits);
// "411111******1111"
std::string mask_pan(std::string_view pan);

using Key256 = std::array<uint8_t, 32>;

struct VaultKeys {
    std::map<std::string, Key256> pan_keys;  // key id → AES-256 key
    std::string active_pan_key;              // id used to seal; all ids can open
    Key256 fingerprint_key{};
    // HMAC-SHA256 key that signs clearing files (`settlement_hmac_key_hex`); the settlement
    // role and `turnout reconcile` refuse to run without it.
    std::optional<Key256> settlement_hmac_key;
};

// Loads the keys file (YAML: pan_keys [{id, key_hex}], active_pan_key, fingerprint_key_hex,
// settlement_hmac_key_hex).
// Throws std::runtime_error naming the file and what is wrong.
// Refuses a file that group or others may read (security/secret_file.hpp); `setting` names
// the config key in that error.
VaultKeys load_vault_keys(const std::string& path, const std::string& setting = "security.keys_file");

class CardVault {
public:
    explicit CardVault(VaultKeys keys);
    ~CardVault();
    CardVault(const CardVault&) = delete;
    CardVault& operator=(const CardVault&) = delete;

    SealedData seal(std::string_view plaintext) const;
    // nullopt if the key id is unknown or the tag does not verify.
    std::optional<std::string> open(const SealedData& sealed) const;
    // Hex HMAC-SHA256 of `kind:value` under the fingerprint key, 32 hex chars.
    std::string fingerprint(std::string_view kind, std::string_view value) const;
    // The clearing-file signing key as raw bytes; throws std::runtime_error if the keys file
    // has none.
    std::string settlement_key() const;

private:
    VaultKeys keys_;
    // Fetched once: OpenSSL 3's implicit fetch on every call takes global locks.
    EVP_CIPHER* cipher_ = nullptr;
    EVP_MAC_CTX* mac_template_ = nullptr;  // HMAC-SHA256 keyed with the fingerprint key
};

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace turnout

namespace turnout {
// Replaces the clear card data of `in` with its protected view: fingerprint, BIN, last4 and
// the PAN sealed under the active key. Tokens, wallets and accounts get a fingerprint only.
void protect_instrument(Instrument& in, const CardVault& vault);
}  // namespace turnout
