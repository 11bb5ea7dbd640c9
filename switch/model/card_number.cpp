#include "model/card_number.hpp"

namespace turnout {

bool luhn_valid(std::string_view digits) {
    if (digits.empty()) return false;
    int sum = 0;
    bool twice = false;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        if (*it < '0' || *it > '9') return false;
        int d = *it - '0';
        if (twice && (d *= 2) > 9) d -= 9;
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

std::string mask_pan(std::string_view pan) {
    if (pan.size() < 10) return std::string(pan.size(), '*');
    std::string out(pan);
    for (size_t i = 6; i + 4 < out.size(); ++i) out[i] = '*';
    return out;
}

}  // namespace turnout
