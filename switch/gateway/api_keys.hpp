#pragma once
// API keys of the HTTP gateway: a text file of `<merchant_id> <sha256-hex of the key>` lines
// (`#` starts a comment). Only digests are stored; a presented key is hashed and compared
// with every entry in constant time, so neither the file nor the timing gives a key away.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnout::gateway {

struct ApiKeyEntry {
    std::string merchant_id;
    std::string digest;  // 64 lower-case hex digits
};

struct ApiKeysParse {
    std::vector<ApiKeyEntry> entries;
    std::string error;  // empty when the whole text was read; else "line N: why"
};

// Reads the file's text. Every non-comment line must be `<merchant_id> <64 hex digits>`
// (merchant id 1-64 bytes without control characters or spaces); a digest listed twice is
// an error (one key, one merchant).
ApiKeysParse parse_api_keys(std::string_view text);

class ApiKeys {
public:
    ApiKeys() = default;
    explicit ApiKeys(std::vector<ApiKeyEntry> entries);
    // Throws std::runtime_error naming the file and line.
    static ApiKeys load(const std::string& path);

    // The merchant of `key`, nullopt for an unknown key. Every entry is compared (no early
    // exit) with a constant-time comparison of the digests.
    std::optional<std::string> verify(std::string_view key) const;
    size_t size() const { return entries_.size(); }

private:
    std::vector<ApiKeyEntry> entries_;
};

// The key from an `Authorization: Bearer <key>` header value; nullopt otherwise.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// A new random key (32 bytes from the OS CSPRNG, URL-safe base64 without padding, prefixed
// `tk_`) and its keys-file line for `merchant_id`.
struct NewKey {
    std::string key;
    std::string line;
};
NewKey make_api_key(const std::string& merchant_id);

std::string sha256_hex_of(std::string_view data);

}  // namespace turnout::gateway
