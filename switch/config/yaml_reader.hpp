#pragma once
// Reading the YAML config with errors that name file:line:column and what was expected.
// Exceptions (ConfigError) are fine here: this runs while loading, never on the data path.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"

namespace turnout {

class YamlReader {
public:
    explicit YamlReader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const {
        const auto m = n.Mark();
        if (m.is_null()) throw ConfigError(source_ + ": " + what);
        throw ConfigError(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " +
                          what);
    }

    std::string where(const YAML::Node& n) const {
        const auto m = n.Mark();
        return source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    }

    void only_keys(const YAML::Node& map, const std::string& ctx, std::initializer_list<const char*> allowed) const {
        only_keys(map, ctx, std::vector<std::string>(allowed.begin(), allowed.end()));
    }
    void only_keys(const YAML::Node& map, const std::string& ctx, const std::vector<std::string>& allowed) const {
        if (!map.IsMap()) fail(map, "expected a mapping for `" + ctx + "`");
        for (const auto& kv : map) {
            const auto key = kv.first.as<std::string>();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string list;
                for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                fail(kv.first, "unknown key `" + ctx + "." + key + "` (expected one of: " + list + ")");
            }
        }
    }

    YAML::Node section(const YAML::Node& parent, const char* key, bool required = true) const {
        auto n = parent[key];
        if (!n && required) fail(parent, std::string("missing required key `") + key + "`");
        return n;
    }

    std::string str(const YAML::Node& parent, const char* key, const std::string& def, bool required = false) const {
        auto n = parent[key];
        if (!n) {
            if (required) fail(parent, std::string("missing required key `") + key + "`");
            return def;
        }
        if (!n.IsScalar()) fail(n, std::string("expected a string for `") + key + "`");
        return n.as<std::string>();
    }

    bool flag(const YAML::Node& parent, const char* key, bool def) const {
        auto n = parent[key];
        if (!n) return def;
        bool v = false;
        if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(n, std::string("expected true or false for `") + key + "`");
        return v;
    }

    int64_t integer(const YAML::Node& parent, const char* key, int64_t def, int64_t lo, int64_t hi) const {
        auto n = parent[key];
        if (!n) return def;
        return integer_value(n, key, lo, hi);
    }

    int64_t integer_value(const YAML::Node& n, const std::string& what, int64_t lo, int64_t hi) const {
        int64_t v = 0;
        if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) ||
            n.as<std::string>().find_first_of(".eE") != std::string::npos)
            fail(n, "expected an integer for `" + what + "`");
        if (v < lo || v > hi)
            fail(n, "`" + what + "` must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return v;
    }

    std::vector<std::string> strings(const YAML::Node& n, const std::string& what) const {
        std::vector<std::string> out;
        if (!n) return out;
        if (!n.IsSequence()) fail(n, "expected a list of strings for `" + what + "`");
        for (const auto& e : n) {
            if (!e.IsScalar()) fail(e, "expected a string in `" + what + "`");
            out.push_back(e.as<std::string>());
        }
        return out;
    }

private:
    std::string source_;
};

}  // namespace turnout
