#include "security/pin_block.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "security/key_provider.hpp"

namespace turnout {
namespace {

bool digits_only(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

bool valid_pin(std::string_view pin) { return pin.size() >= 4 && pin.size() <= 12 && digits_only(pin); }

uint8_t nibble(const uint8_t* b, size_t i) { return i % 2 ? b[i / 2] & 0x0f : b[i / 2] >> 4; }
void set_nibble(uint8_t* b, size_t i, uint8_t v) {
    b[i / 2] = i % 2 ? static_cast<uint8_t>((b[i / 2] & 0xf0) | v) : static_cast<uint8_t>((b[i / 2] & 0x0f) | (v << 4));
}

// 0000 | the 12 rightmost PAN digits excluding the check digit (zeros on the left of a
// shorter PAN).
bool iso0_pan_field(std::string_view pan, uint8_t* out) {
    if (pan.size() < 12 || pan.size() > 19 || !digits_only(pan)) return false;
    const auto body = pan.substr(0, pan.size() - 1);
    const auto twelve = body.substr(body.size() > 12 ? body.size() - 12 : 0);
    for (size_t i = 0; i < 8; ++i) out[i] = 0;
    for (size_t i = 0; i < twelve.size(); ++i)
        set_nibble(out, 16 - twelve.size() + i, static_cast<uint8_t>(twelve[i] - '0'));
    return true;
}

// The PIN of a PIN field whose control nibble is `control` and fill nibble `fill` over
// nibbles 2 .. `fill_end` - 1.
std::optional<std::string> pin_of_field(const uint8_t* field, uint8_t control, uint8_t fill, size_t fill_end) {
    if (nibble(field, 0) != control) return std::nullopt;
    const size_t n = nibble(field, 1);
    if (n < 4 || n > 12) return std::nullopt;
    std::string pin;
    for (size_t i = 0; i < n; ++i) {
        const uint8_t d = nibble(field, 2 + i);
        if (d > 9) {
            OPENSSL_cleanse(pin.data(), pin.size());
            return std::nullopt;
        }
        pin.push_back(static_cast<char>('0' + d));
    }
    for (size_t i = 2 + n; i < fill_end; ++i)
        if (nibble(field, i) != fill) {
            OPENSSL_cleanse(pin.data(), pin.size());
            return std::nullopt;
        }
    return pin;
}

struct Cleared {
    std::vector<uint8_t>& v;
    ~Cleared() { OPENSSL_cleanse(v.data(), v.size()); }
};

}  // namespace

std::optional<std::string> pin_of_iso0(const uint8_t* clear_block, std::string_view pan) {
    uint8_t field[8];
    if (!iso0_pan_field(pan, field)) return std::nullopt;
    for (size_t i = 0; i < 8; ++i) field[i] ^= clear_block[i];
    auto pin = pin_of_field(field, 0, 0xf, 16);
    OPENSSL_cleanse(field, sizeof field);
    return pin;
}

std::optional<std::string> pin_of_iso4_field(const uint8_t* pin_field) { return pin_of_field(pin_field, 4, 0xa, 16); }

std::vector<uint8_t> iso0_block(std::string_view pin, std::string_view pan) {
    std::vector<uint8_t> out(8, 0xff);
    uint8_t pan_field[8];
    if (!valid_pin(pin) || !iso0_pan_field(pan, pan_field)) return {};
    set_nibble(out.data(), 0, 0);
    set_nibble(out.data(), 1, static_cast<uint8_t>(pin.size()));
    for (size_t i = 0; i < pin.size(); ++i) set_nibble(out.data(), 2 + i, static_cast<uint8_t>(pin[i] - '0'));
    for (size_t i = 0; i < 8; ++i) out[i] ^= pan_field[i];
    return out;
}

std::vector<uint8_t> iso4_pin_field(std::string_view pin) {
    if (!valid_pin(pin)) return {};
    std::vector<uint8_t> out(16, 0xaa);
    if (RAND_bytes(out.data() + 8, 8) != 1) return {};
    set_nibble(out.data(), 0, 4);
    set_nibble(out.data(), 1, static_cast<uint8_t>(pin.size()));
    for (size_t i = 0; i < pin.size(); ++i) set_nibble(out.data(), 2 + i, static_cast<uint8_t>(pin[i] - '0'));
    return out;
}

std::vector<uint8_t> iso4_pan_field(std::string_view pan) {
    if (pan.size() < 12 || pan.size() > 19 || !digits_only(pan)) return {};
    std::vector<uint8_t> out(16, 0);
    set_nibble(out.data(), 0, static_cast<uint8_t>(pan.size() - 12));
    for (size_t i = 0; i < pan.size(); ++i) set_nibble(out.data(), 1 + i, static_cast<uint8_t>(pan[i] - '0'));
    return out;
}

std::vector<uint8_t> encipher_pin(const KeyProvider& keys, const std::string& key, std::string_view pin,
                                  std::string_view pan) {
    const size_t size = keys.pin_block_size(key);
    if (size == 8) {
        auto clear = iso0_block(pin, pan);
        Cleared c{clear};
        std::vector<uint8_t> out(8);
        if (clear.empty() || !keys.pin_cipher(key, true, clear.data(), out.data())) return {};
        return out;
    }
    if (size == 16) {
        auto field = iso4_pin_field(pin);
        Cleared c{field};
        const auto pan_field = iso4_pan_field(pan);
        std::vector<uint8_t> a(16), out(16);
        if (field.empty() || pan_field.empty() || !keys.pin_cipher(key, true, field.data(), a.data())) return {};
        for (size_t i = 0; i < 16; ++i) a[i] ^= pan_field[i];
        if (!keys.pin_cipher(key, true, a.data(), out.data())) return {};
        return out;
    }
    return {};
}

std::optional<std::string> decipher_pin(const KeyProvider& keys, const std::string& key, const std::vector<uint8_t>& block,
                                        std::string_view pan, std::string* why) {
    auto fail = [&](const char* w) -> std::optional<std::string> {
        if (why) *why = w;
        return std::nullopt;
    };
    const size_t size = keys.pin_block_size(key);
    if (size == 0) return fail("the PIN key is not loaded");
    if (block.size() != size) return fail(size == 8 ? "a format 0 PIN block is 8 bytes" : "a format 4 PIN block is 16 bytes");
    std::vector<uint8_t> b(size);
    Cleared cb{b};
    if (!keys.pin_cipher(key, false, block.data(), b.data())) return fail("the PIN key failed to decipher");
    std::optional<std::string> pin;
    if (size == 8) {
        pin = pin_of_iso0(b.data(), pan);
    } else {
        const auto pan_field = iso4_pan_field(pan);
        if (pan_field.empty()) return fail("no card number to bind the PIN block to");
        for (size_t i = 0; i < 16; ++i) b[i] ^= pan_field[i];
        std::vector<uint8_t> field(16);
        Cleared cf{field};
        if (!keys.pin_cipher(key, false, b.data(), field.data())) return fail("the PIN key failed to decipher");
        pin = pin_of_iso4_field(field.data());
    }
    if (!pin) return fail("the PIN block does not decipher into a valid PIN block for this card");
    return pin;
}

std::optional<std::vector<uint8_t>> translate_pin_in_memory(const KeyProvider& keys, const std::vector<uint8_t>& block,
                                                            const std::string& to_key, std::string_view pan,
                                                            std::string* why) {
    const auto& from = keys.acquiring_pin_key();
    if (from.empty()) {
        if (why) *why = "no acquiring zone PIN key is loaded";
        return std::nullopt;
    }
    if (keys.pin_block_size(to_key) == 0) {
        if (why) *why = "the channel's PIN key is not loaded";
        return std::nullopt;
    }
    auto pin = decipher_pin(keys, from, block, pan, why);
    if (!pin) return std::nullopt;
    auto out = encipher_pin(keys, to_key, *pin, pan);
    OPENSSL_cleanse(pin->data(), pin->size());
    if (out.empty()) {
        if (why) *why = "the channel's PIN key failed to encipher";
        return std::nullopt;
    }
    return out;
}

}  // namespace turnout
