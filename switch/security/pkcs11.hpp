#pragma once
// Keys under a PKCS#11 token (docs/security.md "Keys under an HSM"), tested against SoftHSM2.
//
// * A key-encryption key (KEK) is generated inside the token: a token object, private,
//   sensitive, not extractable, usable only to wrap and unwrap keys. It never leaves it.
// * Data keys — PAN keys (AES-256-GCM), the fingerprint key and the clearing-file signing key
//   (HMAC-SHA256) — are generated inside the token, wrapped by the KEK (AES key wrap with
//   padding, RFC 5649) and kept wrapped in the key-set file (security.pkcs11.key_set_file),
//   which is not secret: only the token can unwrap it.
// * At start a process unwraps only the data keys its roles use (KeyUse) into the token as
//   session objects, sensitive and not extractable, each limited to the operation it is for
//   (a router's PAN key may encrypt and not decrypt). Every seal, open and MAC is a PKCS#11
//   call; no key is ever in process memory.
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "security/key_provider.hpp"

namespace turnout {

struct SecurityConfig;

// One data key of the key-set file.
struct WrappedKey {
    std::string id;
    std::string purpose;  // pan | fingerprint | settlement
    std::string kek;      // label of the KEK on the token that wraps it
    std::string wrapped_hex;
    std::string created;  // UTC, ISO 8601
};

struct KeySet {
    std::string token_label;
    std::string active_kek;
    std::string active_pan_key;
    std::vector<WrappedKey> keys;

    const WrappedKey* find(const std::string& id) const;
    const WrappedKey* first_of(const std::string& purpose) const;
};

// Throws std::runtime_error naming the file and what is wrong.
KeySet read_key_set(const std::string& path);
void write_key_set(const std::string& path, const KeySet& set);

// The provider over the token of `sec` with the keys of `uses` unwrapped. Throws
// std::runtime_error (module, token, PIN, key set) naming what is wrong.
std::unique_ptr<KeyProvider> make_pkcs11_key_provider(const SecurityConfig& sec, unsigned uses);

// The key ceremony (`turnout keys`). Each prints what it did to `out` and returns an exit
// status; errors throw std::runtime_error.
//   init    — a KEK and the first PAN, fingerprint and signing keys; refuses when the key-set
//             file exists.
//   rotate  — a new PAN key that new seals use; older PAN keys stay to open what they sealed.
//             With `new_kek`: a new KEK instead, every data key re-wrapped under it inside the
//             token (the old KEK stays on the token until its owner destroys it).
//   list    — the keys, their purpose, KEK, creation time, which is active, and the seals
//             counted per key in security.seal_count_dir against security.seal_limit.
int keys_init(const SecurityConfig& sec, std::ostream& out);
int keys_rotate(const SecurityConfig& sec, bool new_kek, std::ostream& out);
int keys_list(const SecurityConfig& sec, const std::string& keys_file, std::ostream& out);

}  // namespace turnout
