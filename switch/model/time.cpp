#include "model/time.hpp"

#include <chrono>
#include <cstdio>

namespace turnout {
namespace {
// Howard Hinnant's days_from_civil: proleptic Gregorian date → days since 1970-01-01.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
    int64_t y;
    unsigned m, d, hh, mm, ss, ms;
};

Civil civil_from_ms(int64_t epoch_ms) {
    int64_t days = epoch_ms / 86400000;
    int64_t rem = epoch_ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        --days;
    }
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    Civil c;
    c.d = doy - (153 * mp + 2) / 5 + 1;
    c.m = mp < 10 ? mp + 3 : mp - 9;
    c.y = static_cast<int64_t>(yoe) + era * 400 + (c.m <= 2);
    c.hh = static_cast<unsigned>(rem / 3600000);
    c.mm = static_cast<unsigned>(rem / 60000 % 60);
    c.ss = static_cast<unsigned>(rem / 1000 % 60);
    c.ms = static_cast<unsigned>(rem % 1000);
    return c;
}

bool digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
}
}  // namespace

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string format_rfc3339(int64_t epoch_ms) {
    const Civil c = civil_from_ms(epoch_ms);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", static_cast<long long>(c.y),
                  c.m, c.d, c.hh, c.mm, c.ss, c.ms);
    return buf;
}

std::string format_compact_utc(int64_t epoch_ms) {
    const Civil c = civil_from_ms(epoch_ms);
    char buf[24];
    std::snprintf(buf, sizeof buf, "%04lld%02u%02uT%02u%02u%02uZ", static_cast<long long>(c.y), c.m, c.d,
                  c.hh, c.mm, c.ss);
    return buf;
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
    unsigned y, mo, d, h, mi, se;
    if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
        !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
        return std::nullopt;
    static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || se > 60) return std::nullopt;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return std::nullopt;
    size_t pos = 19;
    unsigned ms = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n < 3) ms = ms * 10 + static_cast<unsigned>(s[pos] - '0');
            ++n;
            ++pos;
        }
        if (n == 0 || n > 9) return std::nullopt;
        for (; n < 3; ++n) ms *= 10;
    }
    int64_t offset_min = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        unsigned oh, om;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset_min = (s[pos] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 60 + om);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    const int64_t days = days_from_civil(y, mo, d);
    return ((days * 24 + h) * 60 + mi - offset_min) * 60000 + static_cast<int64_t>(se) * 1000 + ms;
}

}  // namespace turnout
