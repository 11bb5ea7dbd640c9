#include "codec/json_members.hpp"

#include <boost/json.hpp>

namespace turnout {
namespace {

// Members named in the text, counted by a scan of the (already validated) JSON text.
size_t members_in_text(std::string_view text) {
    size_t n = 0;
    bool in_string = false;
    size_t after_string = std::string_view::npos;  // index just past the last closing quote
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') { in_string = false; after_string = i + 1; }
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == ':' && after_string != std::string_view::npos) { ++n; after_string = std::string_view::npos; }
        else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') after_string = std::string_view::npos;
    }
    return n;
}

size_t members_in_tree(const boost::json::value& v) {
    size_t n = 0;
    if (auto* o = v.if_object()) {
        n += o->size();
        for (const auto& kv : *o) n += members_in_tree(kv.value());
    } else if (auto* a = v.if_array()) {
        for (const auto& e : *a) n += members_in_tree(e);
    }
    return n;
}

}  // namespace

bool has_repeated_member(std::string_view text, const boost::json::value& doc) {
    return members_in_text(text) != members_in_tree(doc);
}

}  // namespace turnout
