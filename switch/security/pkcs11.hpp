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
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "security/key_provider.hpp"

namespace turnout {

struct SecurityConfig;

// One data key of the key-set file.
struct WrappedKey {
    std::string id;
    std::string purpose;  // pan | fingerprint | settlement | mac | pin
    std::string kek;      // label of the KEK on the token that wraps it
    std::string wrapped_hex;
    std::string created;  // UTC, ISO 8601
    // mac and pin (keys imported by `turnout keys import`): mac: retail-des3 | aes-cmac; pin:
    // des3 (ISO 9564 format 0, kept as K1|K2|K1) | aes (format 4); and the key check value the
    // custodians compared. A retail-des3 key K1|K2 is kept as two
    // triple-DES keys, both wrapped: K1|K2|K1 (`wrapped`, the output transformation) and
    // K1|K2|K2 (`wrapped_chain`, which is single DES under K1: the CBC chain).
    std::string algorithm;
    std::string kcv;
    std::string wrapped_chain_hex;
};

struct KeySet {
    std::string token_label;
    std::string active_kek;
    std::string active_pan_key;
    std::string acquiring_pin_key;  // the PIN key requests' PIN blocks are under; may be empty
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

// `turnout keys import`: a key custodians deliver in clear components under dual control (an
// ISO 8583 MAC key, a zone PIN key). Reads `components` hex lines from `in`, prints each one's
// check value and the combined key's (components XORed), and adds the key to the key set
// as `id`, wrapped by the active KEK inside the token. The clear key is in this process's
// memory only while it is imported (docs/security.md); refuses an id already in the set.
struct KeyImport {
    std::string id;
    std::string purpose = "mac";
    std::string algorithm;  // mac: retail-des3 | aes-cmac; pin: des3 | aes
    int components = 2;
    bool acquiring = false;  // pin: the acquiring zone's key (requests' PIN blocks are under it)
    std::string expect_kcv;  // the check value on the bank's key form (6 hex digits); empty = not checked
};
int keys_import(const SecurityConfig& sec, const KeyImport& what, std::istream& in, std::ostream& out);

}  // namespace turnout
