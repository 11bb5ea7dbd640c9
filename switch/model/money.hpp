#pragma once
// Money is an integer count of minor units plus an ISO 4217 alpha code; never a float.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnout {

struct Currency {
    std::string_view alpha;  // "EUR"
    int numeric;             // 978
    int exponent;            // minor-unit digits
};

// ISO 4217 lookup; nullopt for an unknown code.
std::optional<Currency> find_currency(std::string_view alpha);

// "1298.90 EUR", "50000 JPY": minor units shown with the currency's exponent (2 if unknown).
std::string format_money(int64_t minor, std::string_view currency);

struct Money {
    int64_t value = 0;  // minor units
    std::string currency;
    bool operator==(const Money&) const = default;
};

inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000;  // 10^12

// Overflow-checked addition; false when the sum does not fit.
inline bool checked_add(int64_t a, int64_t b, int64_t& out) {
    return !__builtin_add_overflow(a, b, &out);
}

}  // namespace turnout
