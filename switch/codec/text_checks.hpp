#pragma once
// Character-set checks for text that Turnout reads from its own topics and writes into
// files, logs, names and metric labels. Pure functions, no allocation.
#include <cstddef>
#include <string_view>

#include "model/money.hpp"

namespace turnout::text {

// A line break or other control character: C0 (U+0000-U+001F), DEL, the C1 controls
// U+0080-U+009F (NEL among them) and the Unicode line and paragraph separators
// U+2028/U+2029, as UTF-8. Any of them can split a record of a line-oriented file.
inline bool has_control(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return true;
        if (c == 0xc2 && i + 1 < s.size()) {
            const auto n = static_cast<unsigned char>(s[i + 1]);
            if (n >= 0x80 && n <= 0x9f) return true;
        }
        if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
            const auto n = static_cast<unsigned char>(s[i + 2]);
            if (n == 0xa8 || n == 0xa9) return true;
        }
    }
    return false;
}

// Free text of 1..max bytes without control characters (merchant ids, channel references).
inline bool is_clean_text(std::string_view s, size_t max_len, bool allow_empty = false) {
    if (s.size() > max_len || (s.empty() && !allow_empty)) return false;
    return !has_control(s);
}

// A channel id as `channels[].id` allows: 1-64 of [A-Za-z0-9_-]. Channel ids name topics,
// batches and clearing files, so nothing else is accepted.
inline bool is_channel_id(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

// A machine-readable code (reason codes, response codes): 0..max of [A-Za-z0-9._:-].
inline bool is_code(std::string_view s, size_t max_len = 64) {
    if (s.size() > max_len) return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '-'))
            return false;
    return true;
}

// An ISO 4217 alpha code the switch knows.
inline bool is_currency(std::string_view s) {
    if (s.size() != 3) return false;
    for (char c : s)
        if (c < 'A' || c > 'Z') return false;
    return find_currency(s).has_value();
}

}  // namespace turnout::text
