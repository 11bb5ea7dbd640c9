#include "metrics/log.hpp"

#include <spdlog/pattern_formatter.h>

#include "codec/json_writer.hpp"

#include <cstdio>
#include <stdexcept>

namespace turnout {
namespace {

LogFormat g_format = LogFormat::text;
std::string g_identity;  // ,"version":..,"role":..,"instance":.. ready for a pattern

// A JSON line's leading members; `msg` is the message flag (%j or %v).
std::string json_pattern(const char* msg) {
    return std::string(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","thread":%t)") + g_identity + R"(,"msg":")" +
           msg + "\"}";
}

// spdlog reads % as a flag: a literal one is %%.
std::string pattern_literal(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '%') out += '%';
        out += c;
    }
    return out;
}

// %j: the message, JSON-escaped, for the JSON line pattern.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const auto escaped = json_escape(std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(escaped.data(), escaped.data() + escaped.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

}  // namespace

std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    append_json_escaped(out, s);
    return out;
}

void setup_logging(const std::string& level, const std::string& format) {
    const auto lvl = spdlog::level::from_str(level);
    if (lvl == spdlog::level::off && level != "off") throw std::invalid_argument("unknown log level `" + level + "`");
    spdlog::set_level(lvl);
    if (format == "json") {
        g_format = LogFormat::json;
        auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        f->add_flag<JsonMessageFlag>('j');
        // A payment event's payload is a JSON object already (see log_payment_event): %j
        // would quote it, so events go through the raw "event" logger below.
        f->set_pattern(json_pattern("%j"));
        spdlog::set_formatter(std::move(f));
    } else if (format == "text") {
        g_format = LogFormat::text;
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    } else {
        throw std::invalid_argument("unknown log format `" + format + "` (text, json)");
    }
}

LogFormat log_format() { return g_format; }

void set_log_identity(const std::string& version, const std::string& role, const std::string& instance) {
    g_identity = pattern_literal(",\"version\":\"" + json_escape(version) + "\",\"role\":\"" + json_escape(role) +
                                 "\",\"instance\":\"" + json_escape(instance) + "\"");
}

std::string_view trace_id_of(std::string_view tp) {
    // version "-" trace-id(32) "-" parent-id(16) "-" flags
    if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-') return {};
    return tp.substr(3, 32);
}

void log_payment_event(spdlog::level::level_enum level, std::string_view event, std::string_view payment_id,
                       std::string_view traceparent,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    if (!spdlog::should_log(level)) return;
    if (g_format == LogFormat::json) {
        // Fields become members of the line's object: {"ts":..,"level":..,"msg":"<event>","payment_id":..}
        std::string extra = "\",\"event\":\"" + json_escape(event) + "\",\"payment_id\":\"" + json_escape(payment_id) +
                            "\",\"trace_id\":\"" + json_escape(trace_id_of(traceparent));
        for (const auto& [k, v] : fields) extra += "\",\"" + json_escape(k) + "\":\"" + json_escape(v);
        // The %j flag escapes the payload, so emit the member list through a raw logger.
        static auto raw = [] {
            auto l = spdlog::default_logger()->clone("event");
            l->set_pattern(json_pattern("%v"), spdlog::pattern_time_type::utc);
            return l;
        }();
        raw->set_level(spdlog::get_level());
        raw->log(level, "{}{}", json_escape(event), extra);
        return;
    }
    std::string line(event);
    line += " payment_id=";
    line += payment_id;
    line += " trace_id=";
    line += trace_id_of(traceparent);
    for (const auto& [k, v] : fields) {
        line += ' ';
        line += k;
        line += '=';
        line += v;
    }
    spdlog::log(level, "{}", line);
}

}  // namespace turnout
