// A webhook from the internet: signature and timestamp headers and a body, all attacker
// chosen. The verifier never crashes; a forged signature never passes; a correctly signed
// event passes once and its exact resend is refused as a replay.
// fuzz-needs: connectors/http_json/signature.cpp
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_json/signature.hpp"

using namespace turnout::psp;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}
const std::string kKey = "fuzz-webhook-key-0123456789abcdef";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // timestamp '\n' signature '\n' body
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t a = in.find('\n');
    if (a == std::string_view::npos) return 0;
    const size_t b = in.find('\n', a + 1);
    if (b == std::string_view::npos) return 0;
    const std::string_view ts = in.substr(0, a), sig = in.substr(a + 1, b - a - 1), body = in.substr(b + 1);
    const WebhookKeys keys{{kKey}};
    const int64_t now = 1'800'000'000'000;

    ReplayCache replays(300'000, 1000);
    std::string event;
    const auto c = verify_webhook(keys, ts, sig, body, now, replays, &event);
    (void)to_string(c);
    // A signature the input brings is accepted only if it is the real one.
    if (c == WebhookCheck::ok || c == WebhookCheck::malformed_body || c == WebhookCheck::replayed)
        require(sig.find(sign(kKey, ts, body).substr(3)) != std::string_view::npos);

    // Signed properly, the same bytes pass the signature check; sent twice, the second is a replay.
    const std::string good = sign(kKey, ts, body);
    const auto first = verify_webhook(keys, ts, good, body, now, replays);
    if (first == WebhookCheck::ok) require(verify_webhook(keys, ts, good, body, now, replays) == WebhookCheck::replayed);
    if (!ts.empty()) require(first != WebhookCheck::bad_signature && first != WebhookCheck::missing_signature);
    (void)from_hex(sig);
    return 0;
}
