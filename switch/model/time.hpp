#pragma once
// Times on the wire are RFC 3339 UTC with milliseconds; inside they are epoch milliseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnout {

int64_t now_ms();
// "2026-11-26T06:33:25.123Z"
std::string format_rfc3339(int64_t epoch_ms);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)"; nullopt when malformed.
std::optional<int64_t> parse_rfc3339(std::string_view s);
// "20261126T063000Z", for names (batch ids, file names).
std::string format_compact_utc(int64_t epoch_ms);

}  // namespace turnout
