#include "security/key_provider.hpp"

#include "config/config.hpp"
#include "security/card_vault.hpp"
#include "security/pin_block.hpp"
#include "security/pkcs11.hpp"

namespace turnout {

std::optional<std::vector<uint8_t>> KeyProvider::translate_pin(const std::vector<uint8_t>& block,
                                                                const std::string& to_key, std::string_view pan,
                                                                std::string* why) const {
    return translate_pin_in_memory(*this, block, to_key, pan, why);
}

unsigned key_uses_of_role(const Config& cfg, const std::string& role, const std::string& channel) {
    if (role == "router") return kSealPan | kFingerprint;
    if (role == "settlement") return kSettlement;
    if (role == "connector") {
        const auto* ch = cfg.channel(channel);
        // The ISO 8583 connector puts the card number in field 2; the others never see it.
        if (ch && ch->kind == "iso8583")
            return kOpenPan | (ch->settings["mac_key"] ? kIsoMac : 0u) | (ch->settings["pin_key"] ? kPin : 0u);
    }
    return 0;
}

std::unique_ptr<KeyProvider> load_key_provider(const Config& cfg, unsigned uses, const std::string& keys_file_override) {
    if (uses == 0) return nullptr;
    const auto& sec = cfg.security;
    if (sec.key_provider == "pkcs11") return make_pkcs11_key_provider(sec, uses);
    const auto& path = keys_file_override.empty() ? sec.keys_file : keys_file_override;
    if (path.empty()) throw ConfigError("security.keys_file: no keys file (set it, or TURNOUT_KEYS_FILE)");
    return make_file_key_provider(load_vault_keys(path), uses);
}

}  // namespace turnout
