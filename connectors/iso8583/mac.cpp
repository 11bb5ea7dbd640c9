#include "iso8583/mac.hpp"

namespace turnout::iso8583 {

int mac_field_of(const IsoMessage& m) {
    for (const auto& [f, v] : m.fields)
        if (f > 64 && f != 128) return 128;
    return 64;
}

size_t mac_field_bytes(const Layout& layout, int field) {
    if (field < 2 || field > 128) return 0;
    const auto& f = layout.fields[static_cast<size_t>(field)];
    if (!f.defined || f.type != FieldType::b || f.prefix_digits != 0 || f.length != 8) return 0;
    return f.data == Encoding::ascii ? 16 : 8;
}

std::optional<MacView> mac_view(const Layout& layout, const IsoMessage& m, std::span<const uint8_t> packed,
                                std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<MacView> {
        if (error) *error = why;
        return std::nullopt;
    };
    const int f = mac_field_of(m);
    if (!m.has(f)) return fail("no MAC (field " + std::to_string(f) + ")");
    if (m.fields.rbegin()->first != f) return fail("a field follows the MAC field " + std::to_string(f));
    const size_t n = mac_field_bytes(layout, f);
    if (n == 0 || packed.size() < n) return fail("the layout does not carry a MAC in field " + std::to_string(f));
    const auto carried = m.get(f);
    if (carried.size() != 8) return fail("the MAC is not 8 bytes");
    return MacView{packed.first(packed.size() - n), carried};
}

}  // namespace turnout::iso8583
