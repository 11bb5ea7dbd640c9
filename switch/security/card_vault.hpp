#pragma once
// Card data protection (docs/design.md, "Security"): AES-256-GCM envelopes with key ids for the PAN,
// an HMAC-SHA256 fingerprint for matching instruments without the PAN, masking for logs.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/card_number.hpp"
#include "model/payment.hpp"
#include "security/key_provider.hpp"
#include "security/message_mac.hpp"

namespace turnout {

using Key256 = std::array<uint8_t, 32>;

struct VaultKeys {
    std::map<std::string, Key256> pan_keys;  // key id → AES-256 key
    std::string active_pan_key;              // id used to seal; all ids can open
    Key256 fingerprint_key{};
    // HMAC-SHA256 key that signs clearing files (`settlement_hmac_key_hex`); the settlement
    // role and `turnout reconcile` refuse to run without it.
    std::optional<Key256> settlement_hmac_key;
    // ISO 8583 MAC keys (`mac_keys: [{id, algorithm, key_hex}]`), by id.
    struct MacKey {
        MacAlgorithm algorithm = MacAlgorithm::aes_cmac;
        std::vector<uint8_t> key;
    };
    std::map<std::string, MacKey> mac_keys;
    // PIN keys (`pin_keys: [{id, algorithm: des3|aes, key_hex}]`, security/pin_block.hpp) and
    // the acquiring zone's among them (`acquiring_pin_key`), under which requests carry PIN
    // blocks.
    struct PinKey {
        BlockCipher cipher = BlockCipher::tdes2;
        std::vector<uint8_t> key;
    };
    std::map<std::string, PinKey> pin_keys;
    std::string acquiring_pin_key;
};

// Loads the keys file (YAML: pan_keys [{id, key_hex}], active_pan_key, fingerprint_key_hex,
// settlement_hmac_key_hex).
// Throws std::runtime_error naming the file and what is wrong.
// Refuses a file that group or others may read (config/secret_file.hpp); `setting` names
// the config key in that error.
VaultKeys load_vault_keys(const std::string& path, const std::string& setting = "security.keys_file");

// What a sealed value is bound to: the GCM associated data carries the field and the
// payment_id, so an envelope cut from one payment (or field) and pasted into another does
// not open there.
struct SealScope {
    std::string_view field;
    std::string_view payment_id;
};
inline constexpr std::string_view kPanField = "instrument.pan";
// A dead-lettered request (router): bound to its field only, the payment_id may be unreadable.
inline constexpr std::string_view kDlqField = "dlq.record";

// Sealing, opening and fingerprints over a KeyProvider (security/key_provider.hpp).
class CardVault {
public:
    explicit CardVault(VaultKeys keys);  // the file provider with every key loaded
    // `on_seal` is told the key id of every seal (the seal counter of a sealing process).
    using SealObserver = std::function<void(const std::string& key_id)>;
    explicit CardVault(std::unique_ptr<KeyProvider> provider, SealObserver on_seal = {});
    ~CardVault();
    CardVault(const CardVault&) = delete;
    CardVault& operator=(const CardVault&) = delete;

    SealedData seal(std::string_view plaintext, const SealScope& scope) const;
    // nullopt if the key id is unknown, the tag does not verify, or the envelope was sealed
    // for another field or payment_id.
    std::optional<std::string> open(const SealedData& sealed, const SealScope& scope) const;
    // Hex HMAC-SHA256 of `kind:value` under the fingerprint key, 32 hex chars.
    std::string fingerprint(std::string_view kind, std::string_view value) const;
    // Hex HMAC-SHA256 of `data` under the clearing-file signing key; throws
    // std::runtime_error when it is not loaded.
    std::string settlement_sign(std::string_view data) const;
    // The 8-byte MAC of `data` under MAC key `key_id`; nullopt when it is not loaded.
    std::optional<Mac8> mac8(const std::string& key_id, std::span<const uint8_t> data) const {
        return provider_->mac8(key_id, data);
    }
    // `block`, a PIN block under the acquiring zone key for `pan`, under PIN key `to_key`
    // (security/pin_block.hpp); nullopt + why when it cannot be translated.
    std::optional<std::vector<uint8_t>> translate_pin(const std::vector<uint8_t>& block, const std::string& to_key,
                                                      std::string_view pan, std::string* why) const;
    const KeyProvider& provider() const { return *provider_; }

private:
    std::unique_ptr<KeyProvider> provider_;
    SealObserver on_seal_;
};

// The file provider over `keys`, holding only the keys `uses` names.
std::unique_ptr<KeyProvider> make_file_key_provider(VaultKeys keys, unsigned uses);

// Hex (either case) as bytes; nullopt when empty, of odd length or not hex.
std::optional<std::vector<uint8_t>> parse_hex_bytes(const std::string& hex);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace turnout

namespace turnout {
// Replaces the clear card data of `in` with its protected view: fingerprint, BIN, last4 and
// the PAN sealed under the active key for `payment_id`. Tokens, wallets and accounts get a
// fingerprint only.
void protect_instrument(Instrument& in, const CardVault& vault, std::string_view payment_id);
}  // namespace turnout
