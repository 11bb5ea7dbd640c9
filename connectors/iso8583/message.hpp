#pragma once
// ISO 8583:1987 messages and their per-channel field layout. The packer and unpacker are
// pure (no I/O, no Kafka) and bounds-checked: hostile bytes give nullopt and a reason,
// never an exception or a read outside the input.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}

namespace turnout::iso8583 {

// n: digits; an/ans: characters; b: bytes (held raw in IsoMessage whatever the encoding).
enum class FieldType { n, an, ans, b };
// ascii: one byte per digit/character (b: two hex characters per byte); bcd: two digits per
// byte, left-padded with a zero nibble (n only); binary: raw bytes (b only).
enum class Encoding { ascii, bcd, binary };

struct FieldSpec {
    bool defined = false;
    FieldType type = FieldType::ans;
    int length = 0;         // fixed length, or the maximum of a variable one (digits/chars/bytes)
    int prefix_digits = 0;  // 0 fixed, 2 LLVAR, 3 LLLVAR
    Encoding data = Encoding::ascii;
    Encoding prefix = Encoding::ascii;  // of the length prefix: ascii or bcd (or binary bytes)
};

struct Layout {
    std::string name;
    Encoding mti = Encoding::ascii;  // ascii (4 bytes) or bcd (2 bytes)
    bool hex_bitmap = true;          // ascii hex (16/32 chars, as ISO87APackager) or binary (8/16 bytes)
    std::array<FieldSpec, 129> fields{};  // [2..128]; 1 is the secondary bitmap, set by the packer
};

struct IsoMessage {
    std::string mti;                     // "0200"
    std::map<int, std::string> fields;   // 2..128 → value (digits, characters or raw bytes)

    bool has(int f) const { return fields.count(f) != 0; }
    std::string get(int f) const {
        auto it = fields.find(f);
        return it == fields.end() ? std::string() : it->second;
    }
    void set(int f, std::string v) { fields[f] = std::move(v); }
};

// Fixed n fields shorter than their length are zero-padded on the left, fixed an/ans on the
// right with spaces; anything else that does not fit the layout is an error.
std::optional<std::vector<uint8_t>> pack(const Layout& layout, const IsoMessage& msg, std::string* error);
std::optional<IsoMessage> unpack(const Layout& layout, std::span<const uint8_t> bytes, std::string* error);

// Layout from YAML (a file's root or a channel's inline `layout:` map). Throws ConfigError
// naming `source` with line and column.
Layout parse_layout(const YAML::Node& node, const std::string& source);
Layout load_layout_file(const std::string& path);

// The length header in front of every message on the TCP stream.
enum class LengthHeader { binary2, binary4, ascii4 };
std::optional<LengthHeader> parse_length_header(std::string_view s);
size_t header_size(LengthHeader h);
// nullopt when the body does not fit the header.
std::optional<std::vector<uint8_t>> frame(LengthHeader h, std::span<const uint8_t> body);
// Body length announced by a header of header_size(h) bytes; nullopt when malformed.
std::optional<size_t> body_length(LengthHeader h, std::span<const uint8_t> header);

}  // namespace turnout::iso8583
