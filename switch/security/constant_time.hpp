#pragma once
// Every MAC, signature or key digest is compared in constant time: the time a comparison
// takes must not tell a forger how many leading bytes of a guess were right.
#include <openssl/crypto.h>

#include <string_view>

namespace turnout {

// True when `a` and `b` hold the same bytes. The time depends on the length only (lengths
// of MACs and signatures are public).
inline bool equal_constant_time(std::string_view a, std::string_view b) {
    return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace turnout
