#include "http_json/settings.hpp"

#include <charconv>

#include "http_json/signature.hpp"
#include "config/secret_file.hpp"

namespace turnout::psp {
namespace {

std::string where(const ChannelConfig& ch, const YAML::Node& n) {
    const auto m = n.Mark();
    return ch.source.substr(0, ch.source.find(':')) + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::string text(const ChannelConfig& ch, const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar() || n.as<std::string>().empty()) throw ConfigError(where(ch, n) + ": " + key + " must be a non-empty string");
    return n.as<std::string>();
}

int64_t integer(const ChannelConfig& ch, const YAML::Node& n, const std::string& key, int64_t lo, int64_t hi) {
    int64_t v = 0;
    if (!YAML::convert<int64_t>::decode(n, v) || v < lo || v > hi)
        throw ConfigError(where(ch, n) + ": " + key + " must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
}

void host_port(const ChannelConfig& ch, const YAML::Node& n, const std::string& hp, std::string& host, std::string& port) {
    const auto colon = hp.rfind(':');
    int p = 0;
    if (colon == std::string::npos || colon == 0 ||
        std::from_chars(hp.data() + colon + 1, hp.data() + hp.size(), p).ec != std::errc() || p <= 0 || p > 65535)
        throw ConfigError(where(ch, n) + ": expected host:port, got `" + hp + "`");
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
}

}  // namespace

HttpJsonSettings parse_http_json_settings(const ChannelConfig& ch) {
    HttpJsonSettings s;
    s.channel_id = ch.id;
    const std::string expected =
        "endpoint, tls, keys_file, timeout_ms, connect_timeout_ms, max_connections, busy_retry, webhook, pending";
    for (const auto& kv : ch.settings) {
        const auto key = kv.first.as<std::string>();
        const auto& v = kv.second;
        if (is_common_channel_key(key)) continue;
        if (key == "endpoint") {
            const auto ep = text(ch, v, key);
            if (ep.rfind("https://", 0) != 0) throw ConfigError(where(ch, v) + ": endpoint must start with https://");
            const auto rest = ep.substr(8);
            const auto slash = rest.find('/');
            host_port(ch, v, rest.substr(0, slash), s.host, s.port);
            if (slash != std::string::npos) s.base_path = rest.substr(slash);
            while (!s.base_path.empty() && s.base_path.back() == '/') s.base_path.pop_back();
        } else if (key == "tls") {
            if (!v.IsMap()) throw ConfigError(where(ch, v) + ": tls must be a mapping (ca_file, server_name)");
            for (const auto& t : v) {
                const auto k = t.first.as<std::string>();
                if (k == "ca_file") s.ca_file = text(ch, t.second, "tls.ca_file");
                else if (k == "server_name") s.server_name = text(ch, t.second, "tls.server_name");
                else throw ConfigError(where(ch, t.second) + ": unknown key `tls." + k + "` (expected: ca_file, server_name)");
            }
        } else if (key == "keys_file") {
            s.keys_file = text(ch, v, key);
        } else if (key == "timeout_ms") {
            s.timeout_ms = static_cast<int>(integer(ch, v, key, 1, 600'000));
        } else if (key == "connect_timeout_ms") {
            s.connect_timeout_ms = static_cast<int>(integer(ch, v, key, 1, 600'000));
        } else if (key == "max_connections") {
            s.max_connections = static_cast<int>(integer(ch, v, key, 1, 4096));
        } else if (key == "busy_retry") {
            if (!v.IsMap()) throw ConfigError(where(ch, v) + ": busy_retry must be a mapping (attempts, delay_ms, max_delay_ms)");
            for (const auto& t : v) {
                const auto k = t.first.as<std::string>();
                if (k == "attempts") s.busy_retries = static_cast<int>(integer(ch, t.second, "busy_retry.attempts", 0, 10));
                else if (k == "delay_ms") s.busy_retry_delay_ms = static_cast<int>(integer(ch, t.second, "busy_retry.delay_ms", 1, 60'000));
                else if (k == "max_delay_ms")
                    s.busy_retry_max_delay_ms = static_cast<int>(integer(ch, t.second, "busy_retry.max_delay_ms", 1, 60'000));
                else throw ConfigError(where(ch, t.second) + ": unknown key `busy_retry." + k + "` (expected: attempts, delay_ms, max_delay_ms)");
            }
        } else if (key == "webhook") {
            const std::string keys = "listen, callback_url, replay_window_seconds, max_connections, header_timeout_ms, "
                                     "body_timeout_ms, max_body_bytes, tls";
            if (!v.IsMap()) throw ConfigError(where(ch, v) + ": webhook must be a mapping (" + keys + ")");
            auto& l = s.webhook_limits;
            for (const auto& t : v) {
                const auto k = t.first.as<std::string>();
                const auto name = "webhook." + k;
                if (k == "listen") {
                    s.webhook_listen = text(ch, t.second, name);
                    std::string h, p;
                    host_port(ch, t.second, s.webhook_listen, h, p);
                } else if (k == "callback_url") {
                    s.callback_url = text(ch, t.second, name);
                } else if (k == "replay_window_seconds") {
                    s.replay_window_ms = integer(ch, t.second, name, 1, 86'400) * 1000;
                } else if (k == "max_connections") {
                    l.max_connections = static_cast<int>(integer(ch, t.second, name, 1, 100'000));
                } else if (k == "header_timeout_ms") {
                    l.header_timeout_ms = static_cast<int>(integer(ch, t.second, name, 100, 600'000));
                } else if (k == "body_timeout_ms") {
                    l.body_timeout_ms = static_cast<int>(integer(ch, t.second, name, 100, 600'000));
                } else if (k == "max_body_bytes") {
                    l.max_body_bytes = integer(ch, t.second, name, 256, 16 << 20);
                } else if (k == "tls") {
                    if (!t.second.IsMap()) throw ConfigError(where(ch, t.second) + ": webhook.tls must be a mapping (cert_file, key_file)");
                    for (const auto& f : t.second) {
                        const auto fk = f.first.as<std::string>();
                        if (fk == "cert_file") s.webhook_tls_cert_file = text(ch, f.second, "webhook.tls.cert_file");
                        else if (fk == "key_file") s.webhook_tls_key_file = text(ch, f.second, "webhook.tls.key_file");
                        else throw ConfigError(where(ch, f.second) + ": unknown key `webhook.tls." + fk + "` (expected: cert_file, key_file)");
                    }
                    if (s.webhook_tls_cert_file.empty() != s.webhook_tls_key_file.empty())
                        throw ConfigError(where(ch, t.second) + ": webhook.tls needs both cert_file and key_file");
                } else {
                    throw ConfigError(where(ch, t.second) + ": unknown key `webhook." + k + "` (expected: " + keys + ")");
                }
            }
        } else if (key == "pending") {
            if (!v.IsMap()) throw ConfigError(where(ch, v) + ": pending must be a mapping");
            for (const auto& t : v) {
                const auto k = t.first.as<std::string>();
                const int64_t secs = integer(ch, t.second, "pending." + k, 1, 30 * 86'400);
                if (k == "query_after_seconds") s.pending.query_after_ms = secs * 1000;
                else if (k == "query_every_seconds") s.pending.query_every_ms = secs * 1000;
                else if (k == "give_up_after_seconds") s.pending.give_up_after_ms = secs * 1000;
                else if (k == "late_event_window_seconds") s.pending.late_event_window_ms = secs * 1000;
                else throw ConfigError(where(ch, t.second) + ": unknown key `pending." + k +
                                       "` (expected: query_after_seconds, query_every_seconds, give_up_after_seconds, "
                                       "late_event_window_seconds)");
            }
        } else {
            throw ConfigError(where(ch, v) + ": unknown key `" + key + "` for http_json channel `" + ch.id +
                              "` (expected: " + expected + ")");
        }
    }
    if (s.host.empty()) throw ConfigError(ch.source + ": http_json channel `" + ch.id + "` needs endpoint: https://host:port");
    if (s.ca_file.empty()) throw ConfigError(ch.source + ": http_json channel `" + ch.id + "` needs tls.ca_file");
    if (s.keys_file.empty()) throw ConfigError(ch.source + ": http_json channel `" + ch.id + "` needs keys_file");
    if (s.server_name.empty()) s.server_name = s.host;
    if (s.callback_url.empty() && !s.webhook_listen.empty())
        s.callback_url = (s.webhook_tls_cert_file.empty() ? "http://" : "https://") + s.webhook_listen + "/webhooks/" + ch.id;
    return s;
}

void load_http_json_keys(HttpJsonSettings& s) {
    const auto& ch_id = s.channel_id;
    // keys_file: `channels: { <id>: { request_hmac_key_hex, webhook_hmac_key_hex } }`
    check_secret_file(s.keys_file, "channels." + ch_id + ".keys_file");
    YAML::Node keys;
    try {
        keys = YAML::LoadFile(s.keys_file);
    } catch (const std::exception& e) {
        throw ConfigError("channel " + ch_id + ": keys_file " + s.keys_file + ": " + e.what());
    }
    const auto entry = keys["channels"] ? keys["channels"][ch_id] : YAML::Node();
    if (!entry || !entry.IsMap()) throw ConfigError(s.keys_file + ": no entry channels." + ch_id);
    auto key_of = [&](const char* name) {
        const auto n = entry[name];
        const auto raw = n && n.IsScalar() ? from_hex(n.as<std::string>()) : std::string();
        if (raw.size() < 16) throw ConfigError(s.keys_file + ": channels." + ch_id + "." + name + " must be at least 16 bytes of hex");
        return raw;
    };
    s.request_key = key_of("request_hmac_key_hex");
    s.webhook_key = key_of("webhook_hmac_key_hex");
}

}  // namespace turnout::psp
