#include "gateway/openapi_bundle.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

namespace turnout::gateway {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what) { throw OpenapiBundleError(what); }

std::string read_file(const fs::path& p, bool& ok) {
    std::ifstream in(p, std::ios::binary);
    ok = static_cast<bool>(in);
    if (!ok) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ------------------------------------------------------------------ YAML in

json::value plain_scalar(const std::string& s) {
    static const std::regex int_re("[-+]?[0-9]+");
    static const std::regex hex_re("0x[0-9a-fA-F]+");
    static const std::regex oct_re("0o[0-7]+");
    static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    auto as_int = [&](std::string_view digits, int base, bool negative) -> std::optional<json::value> {
        uint64_t u = 0;
        const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
        if (r.ec != std::errc() || r.ptr != digits.data() + digits.size()) return std::nullopt;
        if (!negative) return json::value(u <= uint64_t(INT64_MAX) ? json::value(int64_t(u)) : json::value(u));
        if (u > uint64_t(INT64_MAX) + 1) return std::nullopt;
        return json::value(u == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(u));
    };
    if (std::regex_match(s, int_re)) {
        const bool neg = s[0] == '-';
        const size_t skip = (s[0] == '-' || s[0] == '+') ? 1 : 0;
        if (auto v = as_int(std::string_view(s).substr(skip), 10, neg)) return *v;
    } else if (std::regex_match(s, hex_re)) {
        if (auto v = as_int(std::string_view(s).substr(2), 16, false)) return *v;
    } else if (std::regex_match(s, oct_re)) {
        if (auto v = as_int(std::string_view(s).substr(2), 8, false)) return *v;
    }
    if (std::regex_match(s, float_re)) {
        double d = 0;
        const auto r = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), s.data() + s.size(), d);
        if (r.ec == std::errc() && std::isfinite(d)) return d;
    }
    static const std::set<std::string> non_finite{".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                                  "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"};
    if (non_finite.count(s)) fail("`" + s + "` has no JSON value");
    return json::string(s);
}

json::value from_yaml(const YAML::Node& n, const std::string& what, int depth) {
    if (depth > 256) fail(what + ": nested deeper than 256 levels");
    switch (n.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return nullptr;
        case YAML::NodeType::Scalar:
            // A quoted or block scalar has the non-specific tag "!": always a string.
            if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") return json::string(n.Scalar());
            return plain_scalar(n.Scalar());
        case YAML::NodeType::Sequence: {
            json::array a;
            for (const auto& item : n) a.push_back(from_yaml(item, what, depth + 1));
            return a;
        }
        case YAML::NodeType::Map: {
            json::object o;
            for (const auto& kv : n) {
                if (!kv.first.IsScalar())
                    fail(what + ": line " + std::to_string(kv.first.Mark().line + 1) + ": a mapping key must be a scalar");
                o[kv.first.Scalar()] = from_yaml(kv.second, what, depth + 1);
            }
            return o;
        }
    }
    return nullptr;
}

// ------------------------------------------------------------------ YAML out

bool plain_safe(const std::string& s) {
    static const std::regex re("[A-Za-z_/$][A-Za-z0-9_./$-]*");
    if (!std::regex_match(s, re)) return false;
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // YAML 1.1 readers (PyYAML) also take these as booleans or null.
    static const std::set<std::string> words{"true", "false", "null", "yes", "no", "on", "off", "y", "n"};
    return !words.count(lower);
}

void quoted(const std::string& s, std::string& out) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        auto u = [&](unsigned x) {
            out += "\\u00";
            out += hex[x >> 4];
            out += hex[x & 15];
        };
        if (c == '"') out += "\\\"";
        else if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c == 0x7f) u(c);
        else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                 static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
            u(static_cast<unsigned char>(s[i + 1]));  // C1 control characters
            ++i;
        } else out += static_cast<char>(c);
    }
    out += '"';
}

std::string number(double d) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string s(buf, r.ptr);
    // YAML 1.1 floats need a '.' and a signed exponent: 1e+20 -> 1.0e+20, 3 -> 3.0
    auto e = s.find_first_of("eE");
    if (s.find('.') == std::string::npos) {
        s.insert(e == std::string::npos ? s.size() : e, ".0");
        e = s.find_first_of("eE");
    }
    if (e != std::string::npos && s[e + 1] != '-' && s[e + 1] != '+') s.insert(e + 1, "+");
    return s;
}

bool is_block(const json::value& v) {
    return (v.is_object() && !v.get_object().empty()) || (v.is_array() && !v.get_array().empty());
}

void inline_value(const json::value& v, std::string& out) {
    switch (v.kind()) {
        case json::kind::null: out += "null"; break;
        case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
        case json::kind::int64: out += std::to_string(v.get_int64()); break;
        case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
        case json::kind::double_: out += number(v.get_double()); break;
        case json::kind::string: {
            const std::string s(v.get_string());
            if (plain_safe(s)) out += s;
            else quoted(s, out);
            break;
        }
        case json::kind::array: out += "[]"; break;
        case json::kind::object: out += "{}"; break;
    }
}

void block(const json::value& v, int indent, std::string& out);

void after_key(const json::value& v, int indent, std::string& out) {
    if (!is_block(v)) {
        out += ' ';
        inline_value(v, out);
        out += '\n';
    } else {
        out += '\n';
        block(v, indent + 2, out);
    }
}

// Lines of a non-empty object or array, each starting with `indent` spaces.
void block(const json::value& v, int indent, std::string& out) {
    const std::string pad(indent, ' ');
    if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            out += pad;
            inline_value(json::string(kv.key()), out);
            out += ':';
            after_key(kv.value(), indent, out);
        }
        return;
    }
    for (const auto& item : v.get_array()) {
        out += pad;
        out += '-';
        if (!is_block(item)) {
            out += ' ';
            inline_value(item, out);
            out += '\n';
        } else {
            // "- key: value" with the following lines under the key: the nested block at
            // indent + 2, its first indentation replaced by "- ".
            std::string nested;
            block(item, indent + 2, nested);
            out += ' ';
            out.append(nested, indent + 2, std::string::npos);
        }
    }
}

// ------------------------------------------------------------------ refs

std::string pointer_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::string pointer_unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '~' && i + 1 < s.size() && (s[i + 1] == '0' || s[i + 1] == '1')) {
            out += s[i + 1] == '0' ? '~' : '/';
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<std::string> pointer_segments(const std::string& pointer) {  // "/a/b" -> {a, b}
    std::vector<std::string> out;
    size_t pos = 1;
    while (pos <= pointer.size()) {
        const auto next = pointer.find('/', pos);
        out.push_back(pointer_unescape(std::string_view(pointer).substr(
            pos, next == std::string::npos ? std::string::npos : next - pos)));
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    return out;
}

const json::value* resolve(const json::value& root, const std::string& pointer) {
    if (pointer.empty()) return &root;
    if (pointer[0] != '/') return nullptr;
    const json::value* v = &root;
    for (const auto& seg : pointer_segments(pointer)) {
        if (v->is_object()) {
            v = v->get_object().if_contains(seg);
        } else if (v->is_array()) {
            size_t i = 0;
            const auto r = std::from_chars(seg.data(), seg.data() + seg.size(), i);
            if (seg.empty() || r.ec != std::errc() || r.ptr != seg.data() + seg.size() || i >= v->get_array().size())
                return nullptr;
            v = &v->get_array()[i];
        } else {
            return nullptr;
        }
        if (!v) return nullptr;
    }
    return v;
}

// Keywords whose values are data, not schemas or document objects: no refs are looked for
// there (unless the key is a property name).
bool data_keyword(const std::string& key, const std::string& parent_key) {
    static const std::set<std::string> data{"example", "examples", "const", "enum", "default"};
    static const std::set<std::string> name_maps{"properties", "patternProperties", "$defs", "dependentSchemas"};
    return data.count(key) && !name_maps.count(parent_key);
}

// Calls f(ref_string&, location) for every "$ref" string in v.
template <class F>
void each_ref(json::value& v, const std::string& at, const std::string& parent_key, F&& f) {
    if (v.is_object()) {
        auto& o = v.get_object();
        for (auto& kv : o) {
            const std::string key(kv.key());
            const std::string here = at + "/" + pointer_escape(key);
            if (key == "$ref" && kv.value().is_string() && parent_key != "properties") {
                f(kv.value().get_string(), here);
                continue;
            }
            if (data_keyword(key, parent_key)) continue;
            each_ref(kv.value(), here, key, f);
        }
    } else if (v.is_array()) {
        auto& a = v.get_array();
        for (size_t i = 0; i < a.size(); ++i) each_ref(a[i], at + "/" + std::to_string(i), parent_key, f);
    }
}

// One schema file to inline.
struct Inlined {
    std::string file;     // file name in schemas_dir
    std::string name;     // component name
    json::value content;  // without $schema, $id, $defs
    std::vector<std::pair<std::string, std::string>> defs_order;  // (def, component name)
    std::map<std::string, std::string> defs;                      // def -> component name
    std::map<std::string, json::value> def_values;                // component name -> content
};

std::string sanitize_name(const std::string& s) {
    std::string out;
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
    return out.empty() ? "_" : out;
}

std::string camel_name(const std::string& file) {
    std::string stem = file;
    for (const char* ext : {".schema.json", ".json", ".yaml", ".yml"}) {
        const std::string e(ext);
        if (stem.size() > e.size() && stem.compare(stem.size() - e.size(), e.size(), e) == 0) {
            stem.resize(stem.size() - e.size());
            break;
        }
    }
    std::string out;
    bool up = true;
    for (char c : stem) {
        if (c == '-' || c == '_' || c == '.' || c == ' ') {
            up = true;
            continue;
        }
        out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        up = false;
    }
    return sanitize_name(out);
}

// object::erase moves the last member into the gap; this keeps the members' order.
void erase_keeping_order(json::object& o, std::string_view key) {
    if (!o.contains(key)) return;
    json::object kept(o.storage());
    kept.reserve(o.size());
    for (auto& kv : o)
        if (kv.key() != key) kept.emplace(kv.key(), std::move(kv.value()));
    o = std::move(kept);
}

void check_no_nested_ids(const json::value& v, const std::string& at, const std::string& parent_key,
                         const std::string& file) {
    static const std::set<std::string> keys{"$id", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef",
                                            "$recursiveAnchor"};
    if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            const std::string key(kv.key());
            if (keys.count(key) && kv.value().is_string() && parent_key != "properties")
                fail(file + ": `" + key + "` at " + (at.empty() ? "/" : at) +
                     " is not supported in an inlined schema (only at its root, where `$id` is dropped)");
            if (data_keyword(key, parent_key)) continue;
            check_no_nested_ids(kv.value(), at + "/" + pointer_escape(key), key, file);
        }
    } else if (v.is_array()) {
        const auto& a = v.get_array();
        for (size_t i = 0; i < a.size(); ++i) check_no_nested_ids(a[i], at + "/" + std::to_string(i), parent_key, file);
    }
}

class Bundler {
public:
    Bundler(json::value& doc, std::string schemas_dir, std::string where)
        : doc_(doc), schemas_dir_(std::move(schemas_dir)), where_(std::move(where)) {}

    void run() {
        if (!doc_.is_object()) fail(where_ + ": not a mapping");
        auto& root = doc_.get_object();
        if (!root["components"].is_object()) root["components"] = json::object();
        auto& components = root["components"].get_object();
        if (!components["schemas"].is_object()) components["schemas"] = json::object();
        auto& schemas = components["schemas"].get_object();
        for (const auto& kv : schemas) taken_.insert(std::string(kv.key()));

        // 1. components.schemas entries that are only an external ref are replaced by the file.
        for (auto& kv : schemas) {
            const auto& v = kv.value();
            if (!v.is_object() || v.get_object().size() != 1) continue;
            const auto* ref = v.get_object().if_contains("$ref");
            if (!ref || !ref->is_string()) continue;
            const std::string r(ref->get_string());
            if (r.empty() || r[0] == '#' || (r.find('#') != std::string::npos && r.find('#') + 1 < r.size())) continue;
            const std::string file = file_of(r, "/components/schemas/" + pointer_escape(std::string(kv.key())));
            if (by_file_.count(file)) continue;  // a second entry for the same file stays a ref (rewritten below)
            add_file(file, std::string(kv.key()), "/components/schemas/" + pointer_escape(std::string(kv.key())));
        }
        // 2. every other external ref (in the document and, transitively, in the inlined files)
        //    names a file to inline.
        for_doc_refs([&](json::string& ref, const std::string& at) {
            const std::string r(ref);
            if (!r.empty() && r[0] != '#') name_for(file_of(r, at), at);
        });
        for (size_t i = 0; i < files_.size(); ++i) {  // files_ grows while this runs
            std::vector<std::pair<std::string, std::string>> found;  // (ref, where)
            auto collect = [&](json::string& ref, const std::string& at) {
                const std::string r(ref);
                if (!r.empty() && r[0] != '#') found.emplace_back(r, files_[i].file + "#" + at);
            };
            each_ref(files_[i].content, "", "", collect);
            for (auto& [n, v] : files_[i].def_values) each_ref(v, "/$defs/" + n, "$defs", collect);
            for (const auto& [r, at] : found) name_for(file_of(r, at), at);
        }
        // 3. rewrite the refs.
        for_doc_refs([&](json::string& ref, const std::string& at) {
            const std::string r(ref);
            if (!r.empty() && r[0] != '#') ref = external_target(r, at);
        });
        for (auto& f : files_) {
            auto rewrite = [&](json::string& ref, const std::string& at) {
                const std::string r(ref);
                const std::string here = f.file + "#" + at;
                if (!r.empty() && r[0] == '#') ref = target(f, fragment_pointer(r.substr(1), here), here, r);
                else ref = external_target(r, here);
            };
            each_ref(f.content, "", "", rewrite);
            for (auto& [n, v] : f.def_values) each_ref(v, "/components/schemas/" + n, "$defs", rewrite);
        }
        // 4. place them.
        for (auto& f : files_) {
            schemas[f.name] = std::move(f.content);
            for (const auto& [def, comp] : f.defs_order) schemas[comp] = std::move(f.def_values[comp]);
        }
        // 5. check: nothing external left, every ref resolves.
        placed_ = true;
        for_doc_refs([&](json::string& ref, const std::string& at) {
            const std::string r(ref);
            if (r.empty() || r[0] != '#') fail(where_ + ": ref `" + r + "` at " + at + " is still external");
            if (!resolve(doc_, fragment_pointer(r.substr(1), at)))
                fail(where_ + ": ref `" + r + "` at " + at + " does not resolve");
        });
    }

private:
    template <class F>
    void for_doc_refs(F&& f) {
        // The entries being replaced by their files are skipped (their ref is the file itself).
        auto& root = doc_.get_object();
        for (auto& kv : root) {
            const std::string key(kv.key());
            if (key != "components") {
                each_ref(kv.value(), "/" + pointer_escape(key), key, f);
                continue;
            }
            for (auto& ckv : kv.value().get_object()) {
                const std::string ckey(ckv.key());
                const std::string at = "/components/" + pointer_escape(ckey);
                if (ckey != "schemas") {
                    each_ref(ckv.value(), at, ckey, f);
                    continue;
                }
                for (auto& skv : ckv.value().get_object()) {
                    const std::string name(skv.key());
                    if (is_replaced_entry(name)) continue;
                    each_ref(skv.value(), at + "/" + pointer_escape(name), "$defs", f);
                }
            }
        }
    }

    bool is_replaced_entry(const std::string& name) const {
        for (const auto& f : files_)
            if (f.name == name && !placed_) return true;
        return false;
    }

    // The file a ref names: the last path segment before '#', looked up in schemas_dir.
    std::string file_of(const std::string& ref, const std::string& at) const {
        std::string path = ref.substr(0, ref.find('#'));
        if (path.empty()) fail(where_ + ": ref `" + ref + "` at " + at + ": no file");
        path = percent_decode(path);
        const auto slash = path.find_last_of('/');
        std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
        if (file.empty() || file == "." || file == "..")
            fail(where_ + ": ref `" + ref + "` at " + at + ": no file name");
        return file;
    }

    std::string unique(const std::string& base) {
        std::string name = base;
        for (int i = 2; taken_.count(name); ++i) name = base + "_" + std::to_string(i);
        taken_.insert(name);
        return name;
    }

    const std::string& name_for(const std::string& file, const std::string& at) {
        const auto it = by_file_.find(file);
        if (it != by_file_.end()) return files_[it->second].name;
        return add_file(file, unique(camel_name(file)), at);
    }

    const std::string& add_file(const std::string& file, const std::string& name, const std::string& at) {
        const fs::path p = fs::path(schemas_dir_) / file;
        bool ok = false;
        const std::string text = read_file(p, ok);
        if (!ok)
            fail(where_ + ": ref at " + at + " names schema `" + file + "`, but " + p.string() +
                 " cannot be read (schemas directory " + schemas_dir_ + ")");
        boost::system::error_code ec;
        json::value v = json::parse(text, ec);
        if (ec) fail(p.string() + ": not JSON: " + ec.message());
        if (!v.is_object() && !v.is_bool()) fail(p.string() + ": a schema must be an object or a boolean");
        Inlined f;
        f.file = file;
        f.name = name;
        taken_.insert(name);
        if (v.is_object()) {
            auto& o = v.get_object();
            erase_keeping_order(o, "$schema");
            erase_keeping_order(o, "$id");
            if (o.contains("definitions"))
                fail(p.string() + ": `definitions` is not supported, use `$defs` (JSON Schema 2020-12)");
            if (auto* defs = o.if_contains("$defs")) {
                if (!defs->is_object()) fail(p.string() + ": `$defs` must be an object");
                for (auto& kv : defs->get_object()) {
                    const std::string def(kv.key());
                    const std::string comp = unique(name + "." + sanitize_name(def));
                    f.defs[def] = comp;
                    f.defs_order.emplace_back(def, comp);
                    f.def_values[comp] = std::move(kv.value());
                }
                erase_keeping_order(o, "$defs");
            }
            check_no_nested_ids(v, "", "", p.string());
            for (const auto& [comp, dv] : f.def_values) check_no_nested_ids(dv, "/$defs", "$defs", p.string());
        }
        f.content = std::move(v);
        by_file_[file] = files_.size();
        files_.push_back(std::move(f));
        return files_.back().name;
    }

    // "#/a/b" fragments: percent-decoded JSON pointers.
    std::string fragment_pointer(const std::string& fragment, const std::string& at) const {
        const std::string p = percent_decode(fragment);
        if (!p.empty() && p[0] != '/')
            fail(where_ + ": ref fragment `#" + fragment + "` at " + at + " is not a JSON pointer (anchors are not supported)");
        return p;
    }

    // The document pointer of `pointer` inside inlined file f.
    std::string target(const Inlined& f, const std::string& pointer, const std::string& at, const std::string& ref) {
        const std::string base = "#/components/schemas/";
        if (pointer.empty()) return base + pointer_escape(f.name);
        const auto segs = pointer_segments(pointer);
        std::string out;
        size_t rest_from = 0;
        if (segs.size() >= 2 && segs[0] == "$defs") {
            const auto it = f.defs.find(segs[1]);
            if (it == f.defs.end()) fail(where_ + ": ref `" + ref + "` at " + at + ": no $defs/" + segs[1] + " in " + f.file);
            out = base + pointer_escape(it->second);
            rest_from = 2;
        } else {
            out = base + pointer_escape(f.name);
        }
        for (size_t i = rest_from; i < segs.size(); ++i) out += "/" + pointer_escape(segs[i]);
        return out;
    }

    std::string external_target(const std::string& ref, const std::string& at) {
        const std::string file = file_of(ref, at);
        const auto& f = files_[by_file_.at(file)];
        const auto hash = ref.find('#');
        const std::string pointer = hash == std::string::npos ? "" : fragment_pointer(ref.substr(hash + 1), at);
        return target(f, pointer, at, ref);
    }

    json::value& doc_;
    std::string schemas_dir_;
    std::string where_;
    std::vector<Inlined> files_;
    std::map<std::string, size_t> by_file_;
    std::set<std::string> taken_;
    bool placed_ = false;  // the replaced components.schemas entries hold their files
};

}  // namespace

json::value yaml_to_json(const std::string& yaml_text, const std::string& what) {
    YAML::Node node;
    try {
        node = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        fail(what + ": " + e.what());
    }
    return from_yaml(node, what, 0);
}

std::string json_to_yaml(const json::value& v) {
    std::string out;
    if (is_block(v)) {
        block(v, 0, out);
    } else {
        inline_value(v, out);
        out += '\n';
    }
    return out;
}

void bundle_document(json::value& doc, const std::string& schemas_dir, const std::string& where) {
    Bundler b(doc, schemas_dir, where);
    b.run();
}

std::string bundle_openapi(const std::string& doc_path, const std::string& schemas_dir) {
    bool ok = false;
    const std::string text = read_file(doc_path, ok);
    if (!ok) fail("cannot read the OpenAPI document " + doc_path);
    json::value doc = yaml_to_json(text, doc_path);
    bundle_document(doc, schemas_dir, doc_path);
    return "# " + fs::path(doc_path).filename().string() +
           " with the message schemas inlined (generated; edit the source document and schemas/)\n" +
           json_to_yaml(doc);
}

}  // namespace turnout::gateway
