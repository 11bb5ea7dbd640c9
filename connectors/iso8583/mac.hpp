#pragma once
// Message authentication on ISO 8583 links (docs/connectors.md "MACs"). Pure functions: no
// I/O, no keys held — the key material comes from the key provider (security/key_provider.hpp).
//
// What is MACed: the message as packed, from the MTI up to (not including) the MAC field,
// which is the last field of the message — field 64 when the message has no secondary
// bitmap, field 128 when it has one. The MAC field holds 8 bytes.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "iso8583/message.hpp"
#include "security/message_mac.hpp"

namespace turnout::iso8583 {

// The field that carries the MAC of `m`: 128 when any field above 64 is set, else 64.
int mac_field_of(const IsoMessage& m);

// Sets the MAC field of `m` and packs it: `mac` is called with the bytes to authenticate and
// returns std::optional<Mac8> (nullopt: no key).
// nullopt (and `error`) when the layout cannot carry it (the MAC field must be defined as
// fixed `b` of 8 bytes) or the message does not pack.
template <typename MacFn>
std::optional<std::vector<uint8_t>> pack_with_mac(const Layout& layout, IsoMessage m, MacFn&& mac, std::string* error);

// The bytes of a received message that its MAC covers, and the MAC it carries. nullopt when
// it carries none, or a field after it.
struct MacView {
    std::span<const uint8_t> covered;
    std::string carried;  // 8 raw bytes
};
std::optional<MacView> mac_view(const Layout& layout, const IsoMessage& m, std::span<const uint8_t> packed,
                                std::string* error);

// How many bytes the MAC field takes in `layout` (16 for ascii-hex b8, 8 for binary b8); 0
// when the layout does not define `field` as fixed b 8.
size_t mac_field_bytes(const Layout& layout, int field);

template <typename MacFn>
std::optional<std::vector<uint8_t>> pack_with_mac(const Layout& layout, IsoMessage m, MacFn&& mac, std::string* error) {
    const int f = mac_field_of(m);
    const size_t n = mac_field_bytes(layout, f);
    if (n == 0) {
        if (error) *error = "the layout does not define field " + std::to_string(f) + " as fixed b 8 (the MAC)";
        return std::nullopt;
    }
    m.set(f, std::string(8, '\0'));
    auto packed = pack(layout, m, error);
    if (!packed) return std::nullopt;
    const std::optional<Mac8> code = mac(std::span<const uint8_t>(packed->data(), packed->size() - n));
    if (!code) {
        if (error) *error = "no MAC key to sign with";
        return std::nullopt;
    }
    m.set(f, std::string(code->begin(), code->end()));
    return pack(layout, m, error);
}

}  // namespace turnout::iso8583
