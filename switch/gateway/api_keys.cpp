#include "gateway/api_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace turnout::gateway {

std::string sha256_hex_of(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[md[i] >> 4]);
        out.push_back(hex[md[i] & 15]);
    }
    return out;
}

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool is_hex_digest(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    return true;
}
}  // namespace

ApiKeysParse parse_api_keys(std::string_view text) {
    ApiKeysParse out;
    std::set<std::string> digests;
    size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        line = trim(line);
        if (line.empty()) continue;
        const auto sp = line.find_first_of(" \t");
        auto fail = [&](const std::string& why) {
            out.entries.clear();
            out.error = "line " + std::to_string(line_no) + ": " + why;
            return out;
        };
        if (sp == std::string_view::npos) return fail("expected `<merchant_id> <sha256-hex of the key>`");
        const auto merchant = line.substr(0, sp);
        const auto digest = trim(line.substr(sp + 1));
        if (merchant.size() > 64) return fail("merchant id longer than 64 bytes");
        for (unsigned char c : merchant)
            if (c < 0x20 || c == 0x7f) return fail("control character in the merchant id");
        if (!is_hex_digest(digest)) return fail("expected the key's SHA-256 as 64 hex digits after the merchant id");
        std::string d(digest);
        for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!digests.insert(d).second) return fail("a key listed twice");
        out.entries.push_back({std::string(merchant), std::move(d)});
    }
    return out;
}

ApiKeys::ApiKeys(std::vector<ApiKeyEntry> entries) : entries_(std::move(entries)) {}

ApiKeys ApiKeys::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("gateway.api_keys_file " + path + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = parse_api_keys(ss.str());
    if (!parsed.error.empty()) throw std::runtime_error("gateway.api_keys_file " + path + ": " + parsed.error);
    return ApiKeys(std::move(parsed.entries));
}

std::optional<std::string> ApiKeys::verify(std::string_view key) const {
    if (key.empty()) return std::nullopt;
    const auto digest = sha256_hex_of(key);
    const std::string* found = nullptr;
    for (const auto& e : entries_)
        if (CRYPTO_memcmp(e.digest.data(), digest.data(), 64) == 0) found = &e.merchant_id;
    if (!found) return std::nullopt;
    return *found;
}

std::optional<std::string_view> bearer_token(std::string_view v) {
    constexpr std::string_view scheme = "Bearer ";
    if (v.size() <= scheme.size()) return std::nullopt;
    for (size_t i = 0; i < scheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(v[i])) != std::tolower(static_cast<unsigned char>(scheme[i])))
            return std::nullopt;
    auto key = trim(v.substr(scheme.size()));
    if (key.empty() || key.size() > 256) return std::nullopt;
    return key;
}

NewKey make_api_key(const std::string& merchant_id) {
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random bytes from the OS");
    static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string key = "tk_";
    unsigned bits = 0;
    int nbits = 0;
    for (unsigned char c : raw) {
        bits = (bits << 8) | c;
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            key.push_back(b64[(bits >> nbits) & 63]);
        }
    }
    if (nbits > 0) key.push_back(b64[(bits << (6 - nbits)) & 63]);
    return {key, merchant_id + " " + sha256_hex_of(key)};
}

}  // namespace turnout::gateway
