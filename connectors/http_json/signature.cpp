#include "http_json/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <boost/json.hpp>

#include <charconv>

namespace turnout::psp {
namespace {

std::string hmac_hex(std::string_view key, std::string_view timestamp, std::string_view body) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // One-shot HMAC over the two parts without concatenating a copy of the body.
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>("SHA256"), 0), OSSL_PARAM_construct_end()};
    size_t out_len = 0;
    EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size());
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>("."), 1);
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    EVP_MAC_final(ctx, md, &out_len, sizeof md);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    len = static_cast<unsigned int>(out_len);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

bool parse_ms(std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 16) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && out >= 0;
}

// Any `v1=<hex>` entry of the header matching `expected` (constant-time compare).
bool signature_matches(std::string_view header, const std::string& expected) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto part = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (part.size() != 3 + expected.size() || part.substr(0, 3) != "v1=") continue;
        if (CRYPTO_memcmp(part.data() + 3, expected.data(), expected.size()) == 0) return true;
    }
    return false;
}

}  // namespace

std::string sign(std::string_view key, std::string_view timestamp, std::string_view body) {
    return "v1=" + hmac_hex(key, timestamp, body);
}

bool ReplayCache::first_time(const std::string& id, int64_t now_ms) {
    while (!order_.empty() && (order_.front().first < now_ms - window_ms_ || order_.size() >= capacity_)) {
        auto it = seen_.find(order_.front().second);
        if (it != seen_.end() && it->second == order_.front().first) seen_.erase(it);
        order_.pop_front();
    }
    auto it = seen_.find(id);
    if (it != seen_.end() && it->second >= now_ms - window_ms_) return false;
    seen_[id] = now_ms;
    order_.emplace_back(now_ms, id);
    return true;
}

const char* to_string(WebhookCheck c) {
    switch (c) {
        case WebhookCheck::ok: return "ok";
        case WebhookCheck::missing_signature: return "missing_signature";
        case WebhookCheck::bad_timestamp: return "bad_timestamp";
        case WebhookCheck::outside_window: return "outside_window";
        case WebhookCheck::bad_signature: return "bad_signature";
        case WebhookCheck::malformed_body: return "malformed_body";
        case WebhookCheck::replayed: return "replayed";
    }
    return "unknown";
}

WebhookCheck verify_signed(const WebhookKeys& keys, std::string_view timestamp_header,
                           std::string_view signature_header, std::string_view body, int64_t now_ms, int64_t window_ms) {
    if (timestamp_header.empty() || signature_header.empty()) return WebhookCheck::missing_signature;
    int64_t ts = 0;
    if (!parse_ms(timestamp_header, ts)) return WebhookCheck::bad_timestamp;
    if (ts < now_ms - window_ms || ts > now_ms + window_ms) return WebhookCheck::outside_window;
    return verify_signature(keys, timestamp_header, signature_header, body);
}

WebhookCheck verify_signature(const WebhookKeys& keys, std::string_view timestamp_header,
                              std::string_view signature_header, std::string_view body) {
    if (timestamp_header.empty() || signature_header.empty()) return WebhookCheck::missing_signature;
    int64_t ts = 0;
    if (!parse_ms(timestamp_header, ts)) return WebhookCheck::bad_timestamp;
    bool ok = false;
    for (const auto& k : keys.keys)
        if (!k.empty() && signature_matches(signature_header, hmac_hex(k, timestamp_header, body))) ok = true;
    return ok ? WebhookCheck::ok : WebhookCheck::bad_signature;
}

WebhookCheck verify_webhook(const WebhookKeys& keys, std::string_view timestamp_header,
                            std::string_view signature_header, std::string_view body, int64_t now_ms,
                            ReplayCache& replays, std::string* event_id) {
    const auto c = verify_signed(keys, timestamp_header, signature_header, body, now_ms, replays.window_ms());
    if (c != WebhookCheck::ok) return c;
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    const auto* o = ec ? nullptr : v.if_object();
    const auto* id = o ? o->if_contains("event_id") : nullptr;
    if (!id || !id->is_string() || id->get_string().empty()) return WebhookCheck::malformed_body;
    std::string eid(id->get_string());
    if (!replays.first_time(eid + "@" + std::string(timestamp_header), now_ms)) return WebhookCheck::replayed;
    if (event_id) *event_id = std::move(eid);
    return WebhookCheck::ok;
}

std::string from_hex(std::string_view hex) {
    if (hex.size() % 2) return {};
    std::string out(hex.size() / 2, '\0');
    for (size_t i = 0; i < out.size(); ++i) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
        if (ec != std::errc() || p != hex.data() + 2 * i + 2) return {};
        out[i] = static_cast<char>(v);
    }
    return out;
}

}  // namespace turnout::psp
