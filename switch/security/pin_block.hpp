#pragma once
// PIN blocks (ISO 9564-1) and their translation between zone keys (docs/security.md "PIN
// translation"). Pure formatting here; the ciphers are the key provider's.
//
// * Format 0 (ISO-0), under a double-length triple-DES PIN key, 8 bytes: the PIN field
//   0 | N | PIN | F… XOR the PAN field 0000 | the 12 rightmost PAN digits without the check
//   digit.
// * Format 4 (ISO-4), under an AES PIN key, 16 bytes: the plain-text PIN field
//   4 | N | PIN | A… (16 nibbles) | 16 random nibbles is enciphered, XORed with the PAN field
//   M | PAN | 0… (M = PAN length - 12), and enciphered again.
// A block's format is its key's: a PIN key is either triple DES (format 0) or AES (format 4).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnout {

class KeyProvider;

// The PIN of a clear format-0 block (8 bytes) or plain-text format-4 PIN field (16 bytes);
// nullopt when the block is not a well-formed block of that format for `pan`.
std::optional<std::string> pin_of_iso0(const uint8_t* clear_block, std::string_view pan);
std::optional<std::string> pin_of_iso4_field(const uint8_t* pin_field);
// The clear format-0 block / the plain-text format-4 PIN field (random fill) of `pin`
// (4-12 digits); empty when the PIN or PAN is not valid.
std::vector<uint8_t> iso0_block(std::string_view pin, std::string_view pan);
std::vector<uint8_t> iso4_pin_field(std::string_view pin);
// The format-4 PAN field of `pan` (12-19 digits); empty when not valid.
std::vector<uint8_t> iso4_pan_field(std::string_view pan);

// `pin` enciphered for `pan` under PIN key `key` in its format (a terminal's or the
// acquirer's side; tests and the host simulator). Empty when the key is not loaded.
std::vector<uint8_t> encipher_pin(const KeyProvider& keys, const std::string& key, std::string_view pin,
                                  std::string_view pan);
// The PIN of `block` under `key` for `pan`; nullopt + why when it does not decipher into a
// well-formed block (wrong key, wrong PAN, tampered or random bytes).
std::optional<std::string> decipher_pin(const KeyProvider& keys, const std::string& key, const std::vector<uint8_t>& block,
                                        std::string_view pan, std::string* why = nullptr);
// The translation a switch makes (KeyProvider::translate_pin by default): `block` from the
// key provider's acquiring zone key to PIN key `to_key`, in `to_key`'s format, with
// pin_cipher. The clear PIN exists in this process's memory between the two (cleared after);
// nullopt + why as decipher_pin, or when a key is not loaded.
std::optional<std::vector<uint8_t>> translate_pin_in_memory(const KeyProvider& keys, const std::vector<uint8_t>& block,
                                                            const std::string& to_key, std::string_view pan,
                                                            std::string* why = nullptr);

}  // namespace turnout
