#pragma once
// Lenient readers for the JSON Turnout writes itself: a missing or mistyped member reads as
// empty / absent, and the caller decides whether the message is still usable.
#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnout::json_read {

inline std::string str(const boost::json::object& o, std::string_view key) {
    if (auto* v = o.if_contains(key))
        if (auto* s = v->if_string()) return std::string(*s);
    return {};
}

inline std::optional<int64_t> int_of(const boost::json::object& o, std::string_view key) {
    if (auto* v = o.if_contains(key)) {
        if (v->is_int64()) return v->get_int64();
        if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX))
            return static_cast<int64_t>(v->get_uint64());
    }
    return std::nullopt;
}

inline int64_t int_or(const boost::json::object& o, std::string_view key, int64_t def = 0) {
    return int_of(o, key).value_or(def);
}

inline const boost::json::object* obj(const boost::json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v ? v->if_object() : nullptr;
}

}  // namespace turnout::json_read
