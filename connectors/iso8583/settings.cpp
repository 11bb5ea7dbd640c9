#include "iso8583/settings.hpp"
#include "iso8583/mac.hpp"

#include <cctype>
#include <filesystem>

#include <yaml-cpp/yaml.h>

namespace turnout::iso8583 {
namespace {

std::string at(const ChannelConfig& ch, const YAML::Node& n) {
    const auto m = n.Mark();
    const auto file = ch.source.substr(0, ch.source.find(':'));
    return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

int int_in(const ChannelConfig& ch, const YAML::Node& n, const std::string& key, int lo, int hi) {
    int v = 0;
    if (!YAML::convert<int>::decode(n, v) || v < lo || v > hi)
        throw ConfigError(at(ch, n) + ": " + key + " must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
}

std::string digits_of(const ChannelConfig& ch, const YAML::Node& n, const std::string& key, size_t lo, size_t hi) {
    const auto s = n.IsScalar() ? n.as<std::string>() : std::string();
    bool ok = s.size() >= lo && s.size() <= hi;
    for (char c : s) ok = ok && c >= '0' && c <= '9';
    if (!ok) throw ConfigError(at(ch, n) + ": " + key + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + " digits");
    return s;
}

// A relative layout path is looked up from the working directory, then next to the config file.
std::string resolve(const ChannelConfig& ch, const std::string& path) {
    namespace fs = std::filesystem;
    if (fs::path(path).is_absolute() || fs::exists(path)) return path;
    const auto file = ch.source.substr(0, ch.source.find(':'));
    const auto beside = fs::path(file).parent_path() / path;
    if (fs::exists(beside)) return beside.string();
    const auto above = fs::path(file).parent_path().parent_path() / path;  // config/x.yaml → repo root
    if (fs::exists(above)) return above.string();
    return path;
}

}  // namespace

ChannelSettings parse_channel_settings(const ChannelConfig& ch) {
    ChannelSettings s;
    bool have_endpoint = false, have_layout = false;
    for (const auto& kv : ch.settings) {
        const auto key = kv.first.as<std::string>();
        const auto& v = kv.second;
        if (is_common_channel_key(key)) continue;
        if (key == "endpoint") {
            const auto ep = v.IsScalar() ? v.as<std::string>() : std::string();
            const auto colon = ep.rfind(':');
            int port = 0;
            if (colon == std::string::npos || colon == 0 || !YAML::convert<int>::decode(YAML::Node(ep.substr(colon + 1)), port) ||
                port < 1 || port > 65535)
                throw ConfigError(at(ch, v) + ": endpoint must be HOST:PORT");
            s.host = ep.substr(0, colon);
            s.port = static_cast<uint16_t>(port);
            have_endpoint = true;
        } else if (key == "layout") {
            if (v.IsMap())
                s.layout = parse_layout(v, ch.source.substr(0, ch.source.find(':')));
            else if (v.IsScalar())
                s.layout = load_layout_file(resolve(ch, v.as<std::string>()));
            else
                throw ConfigError(at(ch, v) + ": layout must be a layout file path or an inline layout map");
            have_layout = true;
        } else if (key == "length_header") {
            const auto h = parse_length_header(v.IsScalar() ? v.as<std::string>() : "");
            if (!h) throw ConfigError(at(ch, v) + ": length_header must be binary2, binary4 or ascii4");
            s.length_header = *h;
        } else if (key == "connections") {
            s.connections = int_in(ch, v, key, 1, 64);
        } else if (key == "max_in_flight") {
            s.max_in_flight = int_in(ch, v, key, 1, 100000);
        } else if (key == "timeout_ms") {
            s.timeout_ms = int_in(ch, v, key, 10, 600000);
        } else if (key == "reversal_timeout_ms") {
            s.reversal_timeout_ms = int_in(ch, v, key, 10, 600000);
        } else if (key == "reversal_retries") {
            s.reversal_retries = int_in(ch, v, key, 0, 100);
        } else if (key == "echo_interval_ms") {
            s.echo_interval_ms = int_in(ch, v, key, 0, 3600000);
        } else if (key == "connect_timeout_ms") {
            s.connect_timeout_ms = int_in(ch, v, key, 10, 600000);
        } else if (key == "reconnect_min_ms") {
            s.reconnect_min_ms = int_in(ch, v, key, 1, 600000);
        } else if (key == "reconnect_max_ms") {
            s.reconnect_max_ms = int_in(ch, v, key, 1, 600000);
        } else if (key == "terminal_prefix") {
            s.terminal_prefix = v.IsScalar() ? v.as<std::string>() : "";
            bool ok = s.terminal_prefix.size() <= 4;
            for (char c : s.terminal_prefix) ok = ok && std::isalnum(static_cast<unsigned char>(c));
            if (!ok) throw ConfigError(at(ch, v) + ": terminal_prefix must be 0..4 letters or digits");
        } else if (key == "keys_file") {
            s.keys_file = v.IsScalar() ? v.as<std::string>() : "";
            if (s.keys_file.empty()) throw ConfigError(at(ch, v) + ": keys_file must be a file path");
            s.keys_file = resolve(ch, s.keys_file);
        } else if (key == "tls") {
            if (!v.IsMap()) throw ConfigError(at(ch, v) + ": tls must be a mapping {ca_file, server_name, cert_file, key_file}");
            for (const auto& t : v) {
                const auto k = t.first.as<std::string>();
                const auto val = t.second.IsScalar() ? t.second.as<std::string>() : "";
                if (val.empty()) throw ConfigError(at(ch, t.second) + ": tls." + k + " must be a non-empty string");
                if (k == "ca_file") s.tls.ca_file = resolve(ch, val);
                else if (k == "cert_file") s.tls.cert_file = resolve(ch, val);
                else if (k == "key_file") s.tls.key_file = resolve(ch, val);
                else if (k == "server_name") s.tls.server_name = val;
                else
                    throw ConfigError(at(ch, t.first) + ": unknown key `tls." + k +
                                      "` (expected: ca_file, server_name, cert_file, key_file)");
            }
            if (!s.tls.enabled()) throw ConfigError(at(ch, v) + ": tls needs ca_file (the CA of the host's certificate)");
        } else if (key == "mac_key") {
            s.mac_key = v.IsScalar() ? v.as<std::string>() : "";
            if (s.mac_key.empty()) throw ConfigError(at(ch, v) + ": mac_key must name a MAC key of the keys");
        } else if (key == "pin_key") {
            s.pin_key = v.IsScalar() ? v.as<std::string>() : "";
            if (s.pin_key.empty()) throw ConfigError(at(ch, v) + ": pin_key must name a PIN key of the keys");
        } else if (key == "journal_dir") {
            s.journal_dir = v.IsScalar() ? v.as<std::string>() : "";
            if (s.journal_dir == "none") s.journal_dir.clear();
            else if (s.journal_dir.empty()) throw ConfigError(at(ch, v) + ": journal_dir must be a directory path, or none");
        } else if (key == "acquirer_id") {
            s.message.acquirer_id = digits_of(ch, v, key, 1, 11);
        } else if (key == "pos_entry_mode") {
            s.message.pos_entry_mode = digits_of(ch, v, key, 3, 3);
        } else if (key == "capture_mti") {
            const auto m = v.IsScalar() ? v.as<std::string>() : "";
            if (m != "0220" && m != "0200") throw ConfigError(at(ch, v) + ": capture_mti must be \"0220\" or \"0200\"");
            s.message.capture_as_advice = m == "0220";
        } else {
            throw ConfigError(at(ch, kv.first) + ": unknown key `" + key + "` for iso8583 channel `" + ch.id +
                              "` (expected: endpoint, layout, length_header, connections, max_in_flight, timeout_ms, "
                              "reversal_timeout_ms, reversal_retries, echo_interval_ms, connect_timeout_ms, "
                              "reconnect_min_ms, reconnect_max_ms, terminal_prefix, keys_file, mac_key, pin_key, tls, journal_dir, acquirer_id, "
                              "pos_entry_mode, capture_mti)");
        }
    }
    if (!have_endpoint) throw ConfigError(ch.source + ": iso8583 channel `" + ch.id + "` needs endpoint: HOST:PORT");
    if (!have_layout) s.layout = load_layout_file(resolve(ch, "config/iso8583/iso87-ascii.yaml"));
    if (s.reconnect_max_ms < s.reconnect_min_ms) s.reconnect_max_ms = s.reconnect_min_ms;
    // The fields this connector sends must be in the layout.
    for (int f : {2, 3, 4, 7, 11, 12, 13, 14, 22, 32, 37, 38, 39, 41, 42, 49, 70, 90})
        if (!s.layout.fields[f].defined)
            throw ConfigError(ch.source + ": layout " + s.layout.name + " of channel `" + ch.id + "` lacks field " +
                              std::to_string(f) + " (docs/design.md, ISO 8583 mapping)");
    if (s.tls.enabled() && s.tls.server_name.empty()) s.tls.server_name = s.host;
    if (!s.mac_key.empty())
        for (int f : {64, 128})
            if (mac_field_bytes(s.layout, f) == 0)
                throw ConfigError(ch.source + ": channel `" + ch.id + "` has a mac_key, but layout " + s.layout.name +
                                  " does not define field " + std::to_string(f) + " as fixed b 8");
    if (!s.pin_key.empty()) {
        const auto& f52 = s.layout.fields[52];
        if (!f52.defined || f52.type != FieldType::b || f52.prefix_digits != 0 || (f52.length != 8 && f52.length != 16))
            throw ConfigError(ch.source + ": channel `" + ch.id + "` has a pin_key, but layout " + s.layout.name +
                              " does not define field 52 as fixed b 8 (format 0) or b 16 (format 4)");
    }
    return s;
}

}  // namespace turnout::iso8583
