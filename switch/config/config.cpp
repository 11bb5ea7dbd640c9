#include "config/config.hpp"
#include "config/topic_catalogue.hpp"
#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace turnout {
namespace {

using Reader = YamlReader;

// The listener keys of a section (gateway, state, metrics): absent ones keep `l`'s values.
void read_listener_limits(const Reader& r, const YAML::Node& n, ListenerLimits& l) {
    l.max_connections = static_cast<int>(r.integer(n, "max_connections", l.max_connections, 1, 1'000'000));
    l.header_timeout_ms = static_cast<int>(r.integer(n, "header_timeout_ms", l.header_timeout_ms, 100, 600'000));
    l.body_timeout_ms = static_cast<int>(r.integer(n, "body_timeout_ms", l.body_timeout_ms, 100, 600'000));
    l.max_body_bytes = r.integer(n, "max_body_bytes", l.max_body_bytes, 0, 64 << 20);
}

// `tls: {cert_file, key_file}`: both or neither.
void read_tls_files(const Reader& r, const YAML::Node& t, const std::string& ctx, std::string& cert, std::string& key) {
    r.only_keys(t, ctx, {"cert_file", "key_file"});
    cert = r.str(t, "cert_file", "");
    key = r.str(t, "key_file", "");
    if (cert.empty() != key.empty()) r.fail(t, "`" + ctx + "` needs both cert_file and key_file (or neither)");
}

KafkaConfig read_kafka(const Reader& r, const YAML::Node& k) {
    r.only_keys(k, "kafka", {"bootstrap_servers", "properties", "partitions", "replication_factor", "name_prefix",
                             "topics", "transactions", "session_timeout_ms", "static_membership"});
    KafkaConfig c;
    c.bootstrap_servers = r.str(k, "bootstrap_servers", "", true);
    if (auto p = k["properties"]) {
        if (!p.IsMap()) r.fail(p, "expected a mapping of librdkafka properties for `kafka.properties`");
        for (const auto& kv : p) c.properties[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
    c.partitions = static_cast<int>(r.integer(k, "partitions", 6, 1, 10000));
    c.replication_factor = static_cast<int>(r.integer(k, "replication_factor", 1, 1, 16));
    c.name_prefix = r.str(k, "name_prefix", "");
    c.session_timeout_ms = static_cast<int>(r.integer(k, "session_timeout_ms", 10000, 1000, 300000));
    c.static_membership = r.flag(k, "static_membership", true);
    auto t = r.section(k, "topics");
    if (t.IsMap() && t["dedupe"])
        r.fail(t["dedupe"], "`kafka.topics.dedupe` is no longer used: the life-cycle ledger (kafka.topics.lifecycle) remembers "
                  "every payment_id; delete the key (and, once drained, the topic)");
    // The topic names: the catalogue's defaults, each overridable, all behind the prefix.
    std::vector<std::string> keys;
    for (const auto& e : topic_catalogue_entries()) keys.push_back(e.key);
    r.only_keys(t, "kafka.topics", keys);
    for (const auto& e : topic_catalogue_entries()) {
        auto* name = c.topics.by_key(e.key);
        if (!name) throw std::logic_error("topic catalogue key `" + e.key + "` names no kafka.topics member");
        *name = c.name_prefix + r.str(t, e.key.c_str(), e.name);
    }
    if (auto x = k["transactions"]) {
        r.only_keys(x, "kafka.transactions", {"commit_every_records", "commit_every_ms", "commit_linger_ms"});
        c.commit_linger_ms = static_cast<int>(r.integer(x, "commit_linger_ms", 5, 0, 60'000));
        c.commit_every_records = static_cast<int>(r.integer(x, "commit_every_records", 2000, 1, 1'000'000));
        c.commit_every_ms = static_cast<int>(r.integer(x, "commit_every_ms", 100, 1, 60'000));
    }
    return c;
}

}  // namespace

std::string* TopicNames::by_key(std::string_view key) {
    struct Member {
        std::string_view key;
        std::string TopicNames::*name;
    };
    static constexpr Member kMembers[] = {
        {"requests", &TopicNames::requests},   {"routed", &TopicNames::routed},
        {"results", &TopicNames::results},     {"dlq", &TopicNames::dlq},
        {"batches", &TopicNames::batches},     {"health", &TopicNames::health},
        {"state", &TopicNames::state},         {"channel_prefix", &TopicNames::channel_prefix},
        {"settlement_log", &TopicNames::settlement_log}, {"pending", &TopicNames::pending},
        {"velocity", &TopicNames::velocity},   {"lifecycle", &TopicNames::lifecycle},
    };
    for (const auto& m : kMembers)
        if (m.key == key) return &(this->*m.name);
    return nullptr;
}

std::optional<int> parse_time_of_day(std::string_view s) {
    if (s.size() != 5 || s[2] != ':') return std::nullopt;
    for (size_t i : {0, 1, 3, 4})
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) return std::nullopt;
    return h * 60 + m;
}

std::optional<int> parse_utc_offset(std::string_view s) {
    if (s == "UTC" || s == "Z" || s == "Etc/UTC") return 0;
    if (s.size() != 6 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
    auto hm = parse_time_of_day(s.substr(1));
    if (!hm || *hm > 14 * 60) return std::nullopt;
    return s[0] == '-' ? -*hm : *hm;
}

const ChannelConfig* Config::channel(const std::string& id) const {
    for (const auto& c : channels)
        if (c.id == id) return &c;
    return nullptr;
}

namespace {
// Applies one TURNOUT__A__B=value override to the parsed document (see config.hpp).
void apply_override(YAML::Node& root, const ConfigOverride& o) {
    std::vector<std::string> path;
    std::string_view rest = std::string_view(o.env).substr(kConfigEnvPrefix.size());
    while (true) {
        const auto cut = rest.find("__");
        path.emplace_back(rest.substr(0, cut));
        if (cut == std::string_view::npos) break;
        rest.remove_prefix(cut + 2);
    }
    const auto bad = [&](const std::string& why) { throw ConfigError(o.env + ": " + why); };
    const auto lower = [](std::string k) {
        for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return k;
    };
    const auto env_form = [](const std::string& id) {
        std::string k;
        for (char ch : id) k += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : '_';
        return k;
    };
    std::string where;  // the path so far, for messages
    YAML::Node cur;
    cur.reset(root);
    for (size_t i = 0; i < path.size(); ++i) {
        const auto& part = path[i];
        if (part.empty()) bad("empty key in the name (keys are separated by `__`)");
        const bool last = i + 1 == path.size();
        YAML::Node next;
        if (cur.IsSequence()) {
            size_t index = cur.size();
            if (std::all_of(part.begin(), part.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
                index = part.size() < 6 ? static_cast<size_t>(std::stoul(part)) : cur.size();
            } else {
                for (size_t e = 0; e < cur.size(); ++e)
                    if (cur[e].IsMap() && cur[e]["id"] && cur[e]["id"].IsScalar() &&
                        env_form(cur[e]["id"].as<std::string>()) == part)
                        index = e;
            }
            if (index >= cur.size()) bad("`" + where + "` has no element `" + part + "` (an id or an index)");
            if (last) bad("`" + where + "` elements are replaced key by key (name one of its keys)");
            next.reset(cur[index]);
            where += "." + part;
        } else {
            if (!cur.IsMap() && !cur.IsNull()) bad("`" + where + "` is not a mapping");
            std::string key = lower(part);
            if (cur.IsMap())
                for (const auto& kv : cur)
                    if (kv.first.IsScalar() && lower(kv.first.as<std::string>()) == key) key = kv.first.as<std::string>();
            where += (where.empty() ? "" : ".") + key;
            if (last) {
                const bool structured = !o.value.empty() && (o.value.front() == '[' || o.value.front() == '{');
                try {
                    cur[key] = structured ? YAML::Load(o.value) : YAML::Node(o.value);
                } catch (const YAML::Exception& e) {
                    bad("value is not valid YAML: " + e.msg);
                }
                return;
            }
            next.reset(cur[key]);
        }
        cur.reset(next);
    }
}
}  // namespace

namespace {
Config parse_document(const std::string& text, const std::string& source, const std::vector<ConfigOverride>& overrides) {
    Reader r(source);
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                          ": invalid YAML: " + e.msg);
    }
    if (!root || !root.IsMap()) throw ConfigError(source + ": expected a YAML mapping at the top level");
    for (const auto& o : overrides) apply_override(root, o);
    Config c;
    c.path = source;
    try {
        r.only_keys(root, "", {"kafka", "security", "limits", "router", "risk", "channels", "settlement", "metrics", "state",
                               "state_dir", "gateway"});
        c.state_dir = r.str(root, "state_dir", "var/state");
        c.kafka = read_kafka(r, r.section(root, "kafka"));

        auto sec = r.section(root, "security");
        r.only_keys(sec, "security", {"keys_file", "key_provider", "pkcs11", "seal_count_dir", "seal_limit",
                                      "seal_warn_percent"});
        auto& s = c.security;
        s.key_provider = r.str(sec, "key_provider", "file");
        if (s.key_provider != "file" && s.key_provider != "pkcs11")
            r.fail(sec["key_provider"], "security.key_provider: expected `file` or `pkcs11`");
        s.keys_file = r.str(sec, "keys_file", "", s.key_provider == "file");
        if (auto p = sec["pkcs11"]) {
            r.only_keys(p, "security.pkcs11", {"module", "token_label", "pin_file", "key_set_file"});
            s.pkcs11_module = r.str(p, "module", s.pkcs11_module);
            s.token_label = r.str(p, "token_label", s.token_label);
            s.pin_file = r.str(p, "pin_file", "");
            s.key_set_file = r.str(p, "key_set_file", s.key_set_file);
        }
        s.seal_count_dir = r.str(sec, "seal_count_dir", s.seal_count_dir);
        s.seal_limit = r.integer(sec, "seal_limit", s.seal_limit, 1, int64_t{1} << 32);
        s.seal_warn_percent = r.integer(sec, "seal_warn_percent", 80, 1, 100);

        if (auto l = root["limits"]) {
            r.only_keys(l, "limits", {"max_record_bytes"});
            c.max_record_bytes = static_cast<size_t>(r.integer(l, "max_record_bytes", 65536, 256, 1 << 20));
        }
        // A gateway body is one record: one over limits.max_record_bytes could never be published.
        c.gateway.limits.max_body_bytes = static_cast<int64_t>(c.max_record_bytes);

        auto ch = r.section(root, "channels");
        if (!ch.IsSequence() || ch.size() == 0) r.fail(ch, "expected a non-empty list of channels");
        std::set<std::string> ids;
        for (const auto& e : ch) {
            if (!e.IsMap()) r.fail(e, "expected a mapping for a channel");
            ChannelConfig cc;
            cc.id = r.str(e, "id", "", true);
            cc.kind = r.str(e, "kind", "", true);
            cc.settings = static_cast<const YAML::Node&>(e);
            if (auto f = e["fees"]) {
                auto rule = [&](const YAML::Node& n, const std::string& ctx, bool top) {
                    if (top)
                        r.only_keys(n, ctx, {"fixed_minor", "bps", "per_currency"});
                    else
                        r.only_keys(n, ctx, {"fixed_minor", "bps"});
                    return FeeRule{r.integer(n, "fixed_minor", 0, 0, kMaxAmountMinor), r.integer(n, "bps", 0, 0, 10000)};
                };
                cc.fees = rule(f, "channels[].fees", true);
                if (auto pc = f["per_currency"]) {
                    if (!pc.IsMap()) r.fail(pc, "expected a mapping currency → {fixed_minor, bps}");
                    for (const auto& kv : pc) {
                        auto cur = kv.first.as<std::string>();
                        if (!find_currency(cur)) r.fail(kv.first, "unknown ISO 4217 currency `" + cur + "`");
                        cc.fees_per_currency[cur] = rule(kv.second, "channels[].fees.per_currency." + cur, false);
                    }
                }
            }
            if (auto cb = e["circuit"]) {
                r.only_keys(cb, "channels[].circuit", {"failure_threshold", "open_seconds"});
                cc.circuit_failure_threshold = static_cast<int>(r.integer(cb, "failure_threshold", 20, 1, 1'000'000));
                cc.circuit_open_seconds = static_cast<int>(r.integer(cb, "open_seconds", 5, 1, 3600));
            }
            cc.source = r.where(e);
            bool ok = !cc.id.empty() && cc.id.size() <= 64;
            for (char x : cc.id) ok = ok && (std::isalnum(static_cast<unsigned char>(x)) || x == '-' || x == '_');
            if (!ok) r.fail(e["id"], "channel id must be 1-64 characters of [A-Za-z0-9_-]");
            if (!ids.insert(cc.id).second) r.fail(e["id"], "duplicate channel id `" + cc.id + "`");
            c.channels.push_back(std::move(cc));
        }

        auto router = r.section(root, "router");
        if (router.IsMap() && router["dedupe_window_hours"])
            r.fail(router["dedupe_window_hours"], "`router.dedupe_window_hours` is no longer used: every payment_id is remembered for "
                      "state.retention_days by the life-cycle ledger; delete the key");
        r.only_keys(router, "router", {"routes"});
        c.routes = parse_routing_rules(r.section(router, "routes"), source, c.channels).rules;
        c.risk = parse_risk_rules(r.section(root, "risk"), source);

        if (auto s = root["settlement"]) {
            r.only_keys(s, "settlement",
                        {"window_seconds", "grace_seconds", "output_dir", "log_retention_hours", "cutoffs"});
            c.settlement.log_retention_hours = static_cast<int>(r.integer(s, "log_retention_hours", 168, 1, 24 * 3650));
            c.settlement.window_seconds = static_cast<int>(r.integer(s, "window_seconds", 10, 1, 86400));
            c.settlement.grace_seconds = static_cast<int>(r.integer(s, "grace_seconds", 2, 0, 86400));
            c.settlement.output_dir = r.str(s, "output_dir", "var/settlement");
            if (auto cl = s["cutoffs"]) {
                if (!cl.IsSequence()) r.fail(cl, "expected a list of cut-off rules for `settlement.cutoffs`");
                std::set<std::string> seen;
                for (const auto& e : cl) {
                    r.only_keys(e, "settlement.cutoffs[]", {"channel", "interval_seconds", "daily_at", "time_zone"});
                    CutoffRule rule;
                    rule.channel = r.str(e, "channel", "", true);
                    if (!ids.count(rule.channel)) r.fail(e["channel"], "cut-off names unknown channel `" + rule.channel + "`");
                    if (!seen.insert(rule.channel).second)
                        r.fail(e["channel"], "a second cut-off rule for channel `" + rule.channel + "`");
                    const bool interval = static_cast<bool>(e["interval_seconds"]);
                    const bool daily = static_cast<bool>(e["daily_at"]);
                    if (interval == daily) r.fail(e, "a cut-off rule needs exactly one of `interval_seconds` and `daily_at`");
                    if (interval) {
                        if (e["time_zone"]) r.fail(e["time_zone"], "`time_zone` goes with `daily_at` only");
                        rule.interval_seconds = r.integer(e, "interval_seconds", 0, 1, 86400);
                    } else {
                        const auto at = r.str(e, "daily_at", "");
                        auto minute = parse_time_of_day(at);
                        if (!minute) r.fail(e["daily_at"], "expected `daily_at` as HH:MM (00:00 … 23:59)");
                        rule.daily_at_minute = *minute;
                        const auto tz = r.str(e, "time_zone", "UTC");
                        auto offset = parse_utc_offset(tz);
                        if (!offset)
                            r.fail(e["time_zone"] ? e["time_zone"] : e,
                                   "expected `time_zone` as UTC or a fixed offset ±HH:MM (named zones such as "
                                   "Europe/Berlin are not supported: their offset changes with daylight saving)");
                        rule.utc_offset_minutes = *offset;
                    }
                    c.settlement.cutoffs.push_back(std::move(rule));
                }
            }
        }
        if (auto st = root["state"]) {
            r.only_keys(st, "state", {"http_address", "http_port", "original_wait_seconds", "retention_days",
                                      "max_connections", "header_timeout_ms", "body_timeout_ms", "max_body_bytes"});
            read_listener_limits(r, st, c.state.http_limits);
            c.state.retention_ms = r.integer(st, "retention_days", 400, 1, 3650) * 86'400'000;
            c.state.http_address = r.str(st, "http_address", "127.0.0.1");
            c.state.http_port = static_cast<int>(r.integer(st, "http_port", 9470, 0, 65535));
            c.state.original_wait_seconds = static_cast<int>(r.integer(st, "original_wait_seconds", 60, 1, 86400));
        }
        if (auto g = root["gateway"]) {
            r.only_keys(g, "gateway", {"enabled", "address", "port", "api_keys_file", "wait_ms", "rate_per_second", "burst",
                                       "max_connections", "header_timeout_ms", "body_timeout_ms", "max_body_bytes", "tls",
                                       "state_url", "openapi_file"});
            auto& gw = c.gateway;
            gw.enabled = r.flag(g, "enabled", false);
            gw.address = r.str(g, "address", "127.0.0.1");
            gw.port = static_cast<int>(r.integer(g, "port", 8480, 0, 65535));
            gw.api_keys_file = r.str(g, "api_keys_file", "config/gateway-keys.txt");
            gw.wait_ms = static_cast<int>(r.integer(g, "wait_ms", 5000, 0, 60000));
            gw.rate_per_second = static_cast<double>(r.integer(g, "rate_per_second", 200, 1, 1'000'000));
            gw.burst = static_cast<double>(r.integer(g, "burst", 400, 1, 10'000'000));
            read_listener_limits(r, g, gw.limits);
            if (gw.limits.max_body_bytes > static_cast<int64_t>(c.max_record_bytes))
                r.fail(g["max_body_bytes"], "`gateway.max_body_bytes` cannot be over limits.max_record_bytes (" +
                                                std::to_string(c.max_record_bytes) + "): such a body could never be published");
            gw.state_url = r.str(g, "state_url", "");
            if (!gw.state_url.empty() && gw.state_url.rfind("http://", 0) != 0)
                r.fail(g["state_url"], "expected `gateway.state_url` as http://host:port (or empty)");
            gw.openapi_file = r.str(g, "openapi_file", "docs/openapi.yaml");
            if (auto t = g["tls"]) read_tls_files(r, t, "gateway.tls", gw.tls_cert_file, gw.tls_key_file);
        }
        if (auto m = root["metrics"]) {
            r.only_keys(m, "metrics", {"address", "port", "max_connections", "header_timeout_ms", "body_timeout_ms",
                                       "max_body_bytes", "tls", "basic_auth"});
            auto& mc = c.metrics;
            mc.address = r.str(m, "address", "127.0.0.1");
            mc.port = static_cast<int>(r.integer(m, "port", 9464, 0, 65535));
            read_listener_limits(r, m, mc.limits);
            if (auto t = m["tls"]) read_tls_files(r, t, "metrics.tls", mc.tls_cert_file, mc.tls_key_file);
            if (auto a = m["basic_auth"]) {
                r.only_keys(a, "metrics.basic_auth", {"user", "password_file"});
                mc.basic_auth_user = r.str(a, "user", "", true);
                mc.basic_auth_password_file = r.str(a, "password_file", "", true);
                if (mc.basic_auth_user.empty() || mc.basic_auth_user.find(':') != std::string::npos)
                    r.fail(a["user"], "`metrics.basic_auth.user` must be non-empty and without `:`");
            }
        }
    } catch (const YAML::Exception& e) {
        throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                          ": " + e.msg);
    }
    return c;
}

}  // namespace

std::vector<ConfigOverride> config_overrides_from_env() {
    std::vector<ConfigOverride> out;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq == std::string_view::npos || !kv.starts_with(kConfigEnvPrefix)) continue;
        out.push_back({std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1))});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.env < b.env; });
    return out;
}

Config parse_config(const std::string& text, const std::string& source, const std::vector<ConfigOverride>& overrides) {
    if (overrides.empty()) return parse_document(text, source, {});
    // A mistake in an override is named by its variable; any other error says overrides were on.
    try {
        return parse_document(text, source, overrides);
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        if (what.starts_with(kConfigEnvPrefix)) throw;
        std::string names;
        for (const auto& o : overrides) names += (names.empty() ? "" : ", ") + o.env;
        throw ConfigError(what + " (with environment overrides " + names + ")");
    }
}

Config load_config(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw ConfigError(path + ": cannot open config file (" + std::strerror(errno) +
                          "); name it with --config FILE: config/turnout.yaml in a checkout, "
                          "/etc/turnout/turnout.yaml when installed from the package");
    std::stringstream ss;
    ss << in.rdbuf();
    auto cfg = parse_config(ss.str(), path, config_overrides_from_env());
    // Scripts and tests point the same file at another broker without editing it.
    if (const char* b = std::getenv("TURNOUT_BOOTSTRAP"); b && *b) cfg.kafka.bootstrap_servers = b;
    return cfg;
}

}  // namespace turnout
