#pragma once
// HMAC-SHA256 signatures of the http_json channel, both ways: Turnout signs each request to
// the PSP, the PSP signs each webhook. The signed bytes are `<timestamp>.<body>`, the
// timestamp (Unix milliseconds) travels in `Turnout-Timestamp`, the signature in
// `Turnout-Signature: v1=<hex>` (several comma-separated `v1=` values are accepted, so a
// sender can sign with an old and a new key while keys rotate).
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace turnout::psp {

inline constexpr const char* kTimestampHeader = "Turnout-Timestamp";
inline constexpr const char* kSignatureHeader = "Turnout-Signature";

// Raw key bytes; any one of them verifies (rotation: add the new key, switch the sender).
struct WebhookKeys {
    std::vector<std::string> keys;
};

// "v1=<hex of HMAC-SHA256(key, timestamp + '.' + body)>".
std::string sign(std::string_view key, std::string_view timestamp, std::string_view body);

// Event ids seen inside the replay window. Bounded: the oldest entries go first.
class ReplayCache {
public:
    explicit ReplayCache(int64_t window_ms = 300'000, size_t capacity = 200'000) : window_ms_(window_ms), capacity_(capacity) {}
    int64_t window_ms() const { return window_ms_; }
    // false if `id` was seen within the window (a replay); otherwise remembers it.
    bool first_time(const std::string& id, int64_t now_ms);
    // Forgets `id` again: the event was not recorded, the sender's redelivery must pass.
    void forget(const std::string& id) { seen_.erase(id); }
    size_t size() const { return seen_.size(); }

private:
    int64_t window_ms_;
    size_t capacity_;
    std::unordered_map<std::string, int64_t> seen_;  // id → time seen
    std::deque<std::pair<int64_t, std::string>> order_;
};

enum class WebhookCheck {
    ok,
    missing_signature,  // a header absent or empty
    bad_timestamp,      // not a decimal number of milliseconds
    outside_window,     // older or newer than the replay window
    bad_signature,      // no key produces the signature
    malformed_body,     // signed, but not a JSON object with a string `event_id`
    replayed,           // the same event id and timestamp was accepted before, within the window
};
const char* to_string(WebhookCheck c);

// Checks a signed message without replay protection (the PSP side, for requests).
WebhookCheck verify_signed(const WebhookKeys& keys, std::string_view timestamp_header,
                           std::string_view signature_header, std::string_view body, int64_t now_ms, int64_t window_ms);

// Checks only that some key produces the signature over `<timestamp>.<body>` (no time
// window): a signed message recorded earlier and read back later.
WebhookCheck verify_signature(const WebhookKeys& keys, std::string_view timestamp_header,
                              std::string_view signature_header, std::string_view body);

// Checks a webhook: signature, timestamp within ±window, then replay of (event_id,
// timestamp). A sender redelivering an event signs it again with a fresh timestamp, so a
// redelivery passes and an exact resend of captured bytes does not. On ok, `event_id` is set.
WebhookCheck verify_webhook(const WebhookKeys& keys, std::string_view timestamp_header,
                            std::string_view signature_header, std::string_view body, int64_t now_ms,
                            ReplayCache& replays, std::string* event_id = nullptr);

// Hex string → bytes; empty on bad input.
std::string from_hex(std::string_view hex);

}  // namespace turnout::psp
