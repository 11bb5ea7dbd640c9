#include "codec/csv.hpp"

namespace turnout {

namespace {
// The UTF-8 length of a control character at s[i] (C0, DEL, C1 U+0080-U+009F, U+2028/U+2029), 0 if none.
size_t control_at(std::string_view s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return 1;
    if (c == 0xc2 && i + 1 < s.size()) {
        const auto n = static_cast<unsigned char>(s[i + 1]);
        if (n >= 0x80 && n <= 0x9f) return 2;
    }
    if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
        const auto n = static_cast<unsigned char>(s[i + 2]);
        if (n == 0xa8 || n == 0xa9) return 3;
    }
    return 0;
}

// A cell starting with one of these is a formula (or can become one) in a spreadsheet.
bool formula_lead(char c) { return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r'; }
}  // namespace

std::string csv_text_cell(std::string_view s) {
    std::string t;
    t.reserve(s.size() + 3);
    for (size_t i = 0; i < s.size();) {
        if (const size_t n = control_at(s, i)) {
            t += '?';
            i += n;
        } else {
            t += s[i++];
        }
    }
    // A leading quote is doubled too, so that reading back removes exactly one.
    if (!t.empty() && (formula_lead(t[0]) || t[0] == '\'')) t.insert(t.begin(), '\'');
    if (t.find_first_of(",\"") == std::string::npos) return t;
    std::string out = "\"";
    for (char c : t) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + '"';
}

std::vector<std::string> split_csv_line(std::string_view line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
            else if (c == '"') quoted = false;
            else out.back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            out.emplace_back();
        } else {
            out.back() += c;
        }
    }
    return out;
}

std::string csv_cell_text(std::string_view cell) {
    if (!cell.empty() && cell[0] == '\'') cell.remove_prefix(1);
    return std::string(cell);
}

std::string fixed_width_text(std::string_view s, size_t width) {
    std::string out;
    out.reserve(width);
    for (size_t i = 0; i < s.size() && out.size() < width;) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        // A control character or any non-ASCII character (all its UTF-8 bytes): one '?'.
        out += '?';
        ++i;
        if (c >= 0xc0)
            for (int k = 0; k < 3 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80; ++k) ++i;
    }
    out.resize(width, ' ');
    return out;
}

}  // namespace turnout
