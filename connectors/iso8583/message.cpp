#include "message.hpp"

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"

namespace turnout::iso8583 {
namespace {

bool fail(std::string* error, std::string why) {
    if (error) *error = std::move(why);
    return false;
}

bool all_digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

const char kHex[] = "0123456789ABCDEF";

int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Bytes a value of `units` digits/characters/bytes takes on the wire.
size_t wire_size(const FieldSpec& f, size_t units) {
    if (f.data == Encoding::bcd) return (units + 1) / 2;
    if (f.type == FieldType::b && f.data == Encoding::ascii) return units * 2;
    return units;
}

size_t prefix_size(const FieldSpec& f) {
    if (f.prefix_digits == 0) return 0;
    if (f.prefix == Encoding::ascii) return static_cast<size_t>(f.prefix_digits);
    return f.prefix_digits == 2 ? 1 : 2;  // bcd: 1 byte (LL) or 2 bytes (0LLL); binary: 1 or 2 bytes
}

void put_digits_bcd(std::vector<uint8_t>& out, std::string_view digits) {
    std::string d(digits);
    if (d.size() % 2) d.insert(d.begin(), '0');
    for (size_t i = 0; i < d.size(); i += 2)
        out.push_back(static_cast<uint8_t>(((d[i] - '0') << 4) | (d[i + 1] - '0')));
}

bool read_digits_bcd(std::span<const uint8_t> in, size_t digits, std::string& out) {
    out.clear();
    const size_t bytes = (digits + 1) / 2;
    std::string all;
    for (size_t i = 0; i < bytes; ++i) {
        const int hi = in[i] >> 4, lo = in[i] & 15;
        if (hi > 9 || lo > 9) return false;
        all.push_back(static_cast<char>('0' + hi));
        all.push_back(static_cast<char>('0' + lo));
    }
    out = all.substr(all.size() - digits);
    return true;
}

void put_prefix(std::vector<uint8_t>& out, const FieldSpec& f, size_t len) {
    if (f.prefix == Encoding::ascii) {
        std::string s = std::to_string(len);
        out.insert(out.end(), f.prefix_digits - s.size(), '0');
        out.insert(out.end(), s.begin(), s.end());
    } else if (f.prefix == Encoding::bcd) {
        std::string s = std::to_string(len);
        s.insert(s.begin(), (f.prefix_digits == 2 ? 2 : 4) - s.size(), '0');
        put_digits_bcd(out, s);
    } else {
        if (f.prefix_digits == 3) out.push_back(static_cast<uint8_t>(len >> 8));
        out.push_back(static_cast<uint8_t>(len & 0xff));
    }
}

}  // namespace

std::optional<std::vector<uint8_t>> pack(const Layout& layout, const IsoMessage& msg, std::string* error) {
    std::vector<uint8_t> out;
    if (msg.mti.size() != 4 || !all_digits(msg.mti)) {
        fail(error, "MTI must be 4 digits");
        return std::nullopt;
    }
    if (layout.mti == Encoding::bcd)
        put_digits_bcd(out, msg.mti);
    else
        for (char c : msg.mti) out.push_back(static_cast<uint8_t>(c));

    uint8_t bitmap[16] = {};
    bool secondary = false;
    for (const auto& [no, v] : msg.fields) {
        if (no < 2 || no > 128) {
            fail(error, "field " + std::to_string(no) + " is outside 2..128");
            return std::nullopt;
        }
        if (no > 64) secondary = true;
        bitmap[(no - 1) / 8] |= static_cast<uint8_t>(0x80 >> ((no - 1) % 8));
    }
    if (secondary) bitmap[0] |= 0x80;
    const size_t bitmap_bytes = secondary ? 16 : 8;
    for (size_t i = 0; i < bitmap_bytes; ++i) {
        if (layout.hex_bitmap) {
            out.push_back(static_cast<uint8_t>(kHex[bitmap[i] >> 4]));
            out.push_back(static_cast<uint8_t>(kHex[bitmap[i] & 15]));
        } else {
            out.push_back(bitmap[i]);
        }
    }

    for (const auto& [no, value] : msg.fields) {
        const FieldSpec& f = layout.fields[no];
        const std::string at = "field " + std::to_string(no);
        if (!f.defined) {
            fail(error, at + " is not in layout " + layout.name);
            return std::nullopt;
        }
        std::string v = value;
        if (f.type == FieldType::n && !all_digits(v)) {
            fail(error, at + " must be digits");
            return std::nullopt;
        }
        if (static_cast<int>(v.size()) > f.length) {
            fail(error, at + " is longer than " + std::to_string(f.length));
            return std::nullopt;
        }
        if (f.prefix_digits == 0 && static_cast<int>(v.size()) < f.length) {
            if (f.type == FieldType::n)
                v.insert(v.begin(), f.length - v.size(), '0');
            else if (f.type == FieldType::b) {
                fail(error, at + " must be " + std::to_string(f.length) + " bytes");
                return std::nullopt;
            } else
                v.append(f.length - v.size(), ' ');
        }
        if (f.prefix_digits) put_prefix(out, f, v.size());
        if (f.data == Encoding::bcd) {
            put_digits_bcd(out, v);
        } else if (f.type == FieldType::b && f.data == Encoding::ascii) {
            for (unsigned char c : v) {
                out.push_back(static_cast<uint8_t>(kHex[c >> 4]));
                out.push_back(static_cast<uint8_t>(kHex[c & 15]));
            }
        } else {
            out.insert(out.end(), v.begin(), v.end());
        }
    }
    return out;
}

std::optional<IsoMessage> unpack(const Layout& layout, std::span<const uint8_t> in, std::string* error) {
    IsoMessage msg;
    size_t pos = 0;
    auto need = [&](size_t n, const std::string& what) {
        if (in.size() - pos < n) return fail(error, what + ": message ends after " + std::to_string(in.size()) + " bytes");
        return true;
    };
    if (layout.mti == Encoding::bcd) {
        if (!need(2, "MTI") || !read_digits_bcd(in.subspan(0, 2), 4, msg.mti)) {
            if (error && error->empty()) *error = "MTI is not BCD";
            return std::nullopt;
        }
        pos = 2;
    } else {
        if (!need(4, "MTI")) return std::nullopt;
        msg.mti.assign(in.begin(), in.begin() + 4);
        pos = 4;
        if (!all_digits(msg.mti)) {
            fail(error, "MTI is not 4 digits");
            return std::nullopt;
        }
    }

    uint8_t bitmap[16] = {};
    auto read_bitmap = [&](size_t index_from) {
        const std::string what = index_from ? "secondary bitmap" : "primary bitmap";
        if (layout.hex_bitmap) {
            if (!need(16, what)) return false;
            for (size_t i = 0; i < 8; ++i) {
                const int hi = hex_value(in[pos + 2 * i]), lo = hex_value(in[pos + 2 * i + 1]);
                if (hi < 0 || lo < 0) return fail(error, what + " is not hex");
                bitmap[index_from + i] = static_cast<uint8_t>(hi << 4 | lo);
            }
            pos += 16;
        } else {
            if (!need(8, what)) return false;
            for (size_t i = 0; i < 8; ++i) bitmap[index_from + i] = in[pos + i];
            pos += 8;
        }
        return true;
    };
    if (!read_bitmap(0)) return std::nullopt;
    const bool secondary = bitmap[0] & 0x80;
    if (secondary && !read_bitmap(8)) return std::nullopt;

    const int last = secondary ? 128 : 64;
    for (int no = 2; no <= last; ++no) {
        if (!(bitmap[(no - 1) / 8] & (0x80 >> ((no - 1) % 8)))) continue;
        const FieldSpec& f = layout.fields[no];
        const std::string at = "field " + std::to_string(no);
        if (!f.defined) {
            fail(error, at + " is present but not in layout " + layout.name);
            return std::nullopt;
        }
        size_t units = static_cast<size_t>(f.length);
        if (f.prefix_digits) {
            const size_t ps = prefix_size(f);
            if (!need(ps, at + " length")) return std::nullopt;
            size_t len = 0;
            if (f.prefix == Encoding::ascii) {
                for (size_t i = 0; i < ps; ++i) {
                    const uint8_t c = in[pos + i];
                    if (c < '0' || c > '9') {
                        fail(error, at + " length is not digits");
                        return std::nullopt;
                    }
                    len = len * 10 + (c - '0');
                }
            } else if (f.prefix == Encoding::bcd) {
                std::string d;
                if (!read_digits_bcd(in.subspan(pos, ps), ps * 2, d)) {
                    fail(error, at + " length is not BCD");
                    return std::nullopt;
                }
                for (char c : d) len = len * 10 + static_cast<size_t>(c - '0');
            } else {
                for (size_t i = 0; i < ps; ++i) len = len << 8 | in[pos + i];
            }
            pos += ps;
            if (len > static_cast<size_t>(f.length)) {
                fail(error, at + " length " + std::to_string(len) + " exceeds " + std::to_string(f.length));
                return std::nullopt;
            }
            units = len;
        }
        const size_t bytes = wire_size(f, units);
        if (!need(bytes, at)) return std::nullopt;
        const auto data = in.subspan(pos, bytes);
        std::string v;
        if (f.data == Encoding::bcd) {
            if (!read_digits_bcd(data, units, v)) {
                fail(error, at + " is not BCD");
                return std::nullopt;
            }
        } else if (f.type == FieldType::b && f.data == Encoding::ascii) {
            for (size_t i = 0; i < units; ++i) {
                const int hi = hex_value(data[2 * i]), lo = hex_value(data[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    fail(error, at + " is not hex");
                    return std::nullopt;
                }
                v.push_back(static_cast<char>(hi << 4 | lo));
            }
        } else {
            v.assign(data.begin(), data.end());
            if (f.type == FieldType::n && !all_digits(v)) {
                fail(error, at + " is not digits");
                return std::nullopt;
            }
        }
        pos += bytes;
        msg.fields[no] = std::move(v);
    }
    if (pos != in.size()) {
        fail(error, std::to_string(in.size() - pos) + " trailing bytes after the last field");
        return std::nullopt;
    }
    return msg;
}

namespace {

std::string where(const std::string& source, const YAML::Node& n) {
    const auto m = n.Mark();
    if (m.line < 0) return source;
    return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

Encoding encoding_of(const YAML::Node& n, const std::string& source, const char* key) {
    const auto s = n.as<std::string>("");
    if (s == "ascii") return Encoding::ascii;
    if (s == "bcd") return Encoding::bcd;
    if (s == "binary") return Encoding::binary;
    throw ConfigError(where(source, n) + ": " + key + " must be ascii, bcd or binary");
}

}  // namespace

Layout parse_layout(const YAML::Node& node, const std::string& source) {
    if (!node.IsMap()) throw ConfigError(where(source, node) + ": an ISO 8583 layout must be a map with `fields`");
    Layout l;
    l.name = node["name"] ? node["name"].as<std::string>("") : source;
    if (const auto m = node["mti"]) {
        l.mti = encoding_of(m, source, "mti");
        if (l.mti == Encoding::binary) throw ConfigError(where(source, m) + ": mti must be ascii or bcd");
    }
    if (const auto b = node["bitmap"]) {
        const auto s = b.as<std::string>("");
        if (s != "hex" && s != "binary") throw ConfigError(where(source, b) + ": bitmap must be hex or binary");
        l.hex_bitmap = s == "hex";
    }
    for (const auto& kv : node) {
        const auto key = kv.first.as<std::string>("");
        if (key != "name" && key != "mti" && key != "bitmap" && key != "fields")
            throw ConfigError(where(source, kv.first) + ": unknown layout key `" + key + "` (expected: name, mti, bitmap, fields)");
    }
    const auto fields = node["fields"];
    if (!fields || !fields.IsMap()) throw ConfigError(where(source, node) + ": layout needs a `fields` map");
    for (const auto& kv : fields) {
        int no = 0;
        if (!YAML::convert<int>::decode(kv.first, no) || no < 2 || no > 128)
            throw ConfigError(where(source, kv.first) + ": field numbers are 2..128");
        const auto& spec = kv.second;
        const std::string at = where(source, spec);
        if (!spec.IsMap()) throw ConfigError(at + ": field " + std::to_string(no) + " needs {type, length[, prefix, encoding]}");
        FieldSpec f;
        f.defined = true;
        const auto type = spec["type"].as<std::string>("");
        if (type == "n") f.type = FieldType::n;
        else if (type == "an") f.type = FieldType::an;
        else if (type == "ans") f.type = FieldType::ans;
        else if (type == "b") f.type = FieldType::b;
        else throw ConfigError(at + ": field " + std::to_string(no) + " type must be n, an, ans or b");
        if (!spec["length"] || !YAML::convert<int>::decode(spec["length"], f.length) || f.length < 1 || f.length > 999)
            throw ConfigError(at + ": field " + std::to_string(no) + " length must be 1..999");
        const auto prefix = spec["prefix"] ? spec["prefix"].as<std::string>("") : "fixed";
        if (prefix == "fixed") f.prefix_digits = 0;
        else if (prefix == "LL") f.prefix_digits = 2;
        else if (prefix == "LLL") f.prefix_digits = 3;
        else throw ConfigError(at + ": field " + std::to_string(no) + " prefix must be fixed, LL or LLL");
        if (f.prefix_digits == 2 && f.length > 99)
            throw ConfigError(at + ": field " + std::to_string(no) + " is LL: length at most 99");
        f.data = f.type == FieldType::b ? Encoding::binary : Encoding::ascii;
        if (spec["encoding"]) f.data = encoding_of(spec["encoding"], source, "encoding");
        if (f.data == Encoding::bcd && f.type != FieldType::n)
            throw ConfigError(at + ": field " + std::to_string(no) + ": bcd encodes only n fields");
        if (f.data == Encoding::binary && f.type != FieldType::b)
            throw ConfigError(at + ": field " + std::to_string(no) + ": binary encodes only b fields");
        if (spec["prefix_encoding"]) f.prefix = encoding_of(spec["prefix_encoding"], source, "prefix_encoding");
        for (const auto& k : spec) {
            const auto key = k.first.as<std::string>("");
            if (key != "type" && key != "length" && key != "prefix" && key != "encoding" && key != "prefix_encoding" &&
                key != "name")
                throw ConfigError(where(source, k.first) + ": unknown field key `" + key +
                                  "` (expected: type, length, prefix, encoding, prefix_encoding, name)");
        }
        l.fields[no] = f;
    }
    return l;
}

Layout load_layout_file(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw ConfigError(path + ": cannot read the ISO 8583 layout file");
    } catch (const YAML::Exception& e) {
        throw ConfigError(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    return parse_layout(root, path);
}

std::optional<LengthHeader> parse_length_header(std::string_view s) {
    if (s == "binary2") return LengthHeader::binary2;
    if (s == "binary4") return LengthHeader::binary4;
    if (s == "ascii4") return LengthHeader::ascii4;
    return std::nullopt;
}

size_t header_size(LengthHeader h) { return h == LengthHeader::binary2 ? 2 : 4; }

std::optional<std::vector<uint8_t>> frame(LengthHeader h, std::span<const uint8_t> body) {
    const size_t n = body.size();
    std::vector<uint8_t> out;
    out.reserve(n + 4);
    switch (h) {
        case LengthHeader::binary2:
            if (n > 0xffff) return std::nullopt;
            out = {static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
            break;
        case LengthHeader::binary4:
            out = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                   static_cast<uint8_t>(n)};
            break;
        case LengthHeader::ascii4:
            if (n > 9999) return std::nullopt;
            for (int d = 1000; d; d /= 10) out.push_back(static_cast<uint8_t>('0' + n / d % 10));
            break;
    }
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

std::optional<size_t> body_length(LengthHeader h, std::span<const uint8_t> hd) {
    if (hd.size() != header_size(h)) return std::nullopt;
    size_t n = 0;
    if (h == LengthHeader::ascii4) {
        for (uint8_t c : hd) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + (c - '0');
        }
    } else {
        for (uint8_t c : hd) n = n << 8 | c;
    }
    return n;
}

}  // namespace turnout::iso8583
