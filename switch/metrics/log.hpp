#pragma once
// Logging: text or JSON lines (one object per line) at a configurable level. Per-payment
// events carry payment_id and the W3C trace id, so a payment can be followed across stages.
#include <spdlog/spdlog.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace turnout {

enum class LogFormat { text, json };

// Throws std::invalid_argument on an unknown level or format.
void setup_logging(const std::string& level, const std::string& format);
LogFormat log_format();

// Adds "version", "role" and "instance" to every JSON log line (call before or after
// setup_logging; text lines are unchanged).
void set_log_identity(const std::string& version, const std::string& role, const std::string& instance);

// The trace id (second field) of a traceparent header; empty if malformed.
std::string_view trace_id_of(std::string_view traceparent);

// An event about one payment: {"event":..., "payment_id":..., "trace_id":..., fields...}.
void log_payment_event(spdlog::level::level_enum level, std::string_view event, std::string_view payment_id,
                       std::string_view traceparent,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {});

std::string json_escape(std::string_view s);

}  // namespace turnout
