// Bytes from a card host's TCP stream: the ISO 8583 unpacker never reads outside its input,
// never throws and never crashes, under the default ASCII layout and a BCD/binary variant;
// whatever it unpacks packs again and unpacks to the same fields.
// fuzz-needs: connectors/iso8583/message.cpp config/iso8583/iso87-ascii.yaml
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "iso8583/message.hpp"

using namespace turnout::iso8583;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}

const Layout& ascii_layout() {
    static const Layout l = load_layout_file(TURNOUT_SOURCE_DIR "/config/iso8583/iso87-ascii.yaml");
    return l;
}

// The same fields with BCD MTI, numerics and length prefixes and a binary bitmap.
const Layout& bcd_layout() {
    static const Layout l = [] {
        Layout b = ascii_layout();
        b.name = "fuzz-bcd";
        b.mti = Encoding::bcd;
        b.hex_bitmap = false;
        for (auto& f : b.fields) {
            if (!f.defined) continue;
            if (f.type == FieldType::n) f.data = Encoding::bcd;
            if (f.type == FieldType::b) f.data = Encoding::binary;
            if (f.prefix_digits) f.prefix = Encoding::bcd;
        }
        return b;
    }();
    return l;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    // The first byte picks the layout and the framing; the rest is the message.
    const Layout& layout = (data[0] & 1) ? bcd_layout() : ascii_layout();
    const std::span<const uint8_t> body(data + 1, size - 1);

    std::string error;
    const auto msg = unpack(layout, body, &error);
    if (msg) {
        std::string again_error;
        if (const auto packed = pack(layout, *msg, &again_error)) {
            const auto again = unpack(layout, *packed, &again_error);
            require(again.has_value());
            require(again->mti == msg->mti && again->fields == msg->fields);
        }
    } else {
        require(!error.empty());
    }

    // The length header in front of each message.
    const LengthHeader headers[] = {LengthHeader::binary2, LengthHeader::binary4, LengthHeader::ascii4};
    const LengthHeader h = headers[(data[0] >> 1) % 3];
    if (body.size() >= header_size(h)) (void)body_length(h, body.first(header_size(h)));
    if (const auto framed = frame(h, body)) {
        const auto n = body_length(h, std::span<const uint8_t>(*framed).first(header_size(h)));
        require(n && *n == body.size());
    }
    return 0;
}
