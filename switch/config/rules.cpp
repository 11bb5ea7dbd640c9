#include "config/rules.hpp"

#include <algorithm>
#include <set>

#include "config/config.hpp"

namespace turnout {
namespace {

class RuleReader {
public:
    explicit RuleReader(const std::string& source) : source_(source) {}

    [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const {
        const auto m = n.Mark();
        if (m.is_null()) throw ConfigError(source_ + ": " + what);
        throw ConfigError(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + what);
    }

    void only_keys(const YAML::Node& map, const std::string& ctx, std::initializer_list<const char*> allowed) const {
        if (!map.IsMap()) fail(map, "expected a mapping for `" + ctx + "`");
        for (const auto& kv : map) {
            const auto key = kv.first.as<std::string>();
            if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
                std::string list;
                for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
                fail(kv.first, "unknown key `" + ctx + "." + key + "` (expected one of: " + list + ")");
            }
        }
    }

    int64_t integer(const YAML::Node& n, const std::string& what, int64_t lo, int64_t hi) const {
        int64_t v = 0;
        if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) ||
            n.as<std::string>().find_first_of(".eE") != std::string::npos)
            fail(n, "expected an integer for `" + what + "`");
        if (v < lo || v > hi) fail(n, "`" + what + "` must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return v;
    }

    int64_t integer(const YAML::Node& parent, const char* key, int64_t def, int64_t lo, int64_t hi) const {
        auto n = parent[key];
        return n ? integer(n, key, lo, hi) : def;
    }

    // A scalar or a list of scalars (`currency: EUR` and `currency: [EUR, USD]` both work).
    std::vector<std::string> strings(const YAML::Node& n, const std::string& what) const {
        std::vector<std::string> out;
        if (!n) return out;
        if (n.IsScalar()) return {n.as<std::string>()};
        if (!n.IsSequence()) fail(n, "expected a list of strings for `" + what + "`");
        for (const auto& e : n) {
            if (!e.IsScalar()) fail(e, "expected a string in `" + what + "`");
            out.push_back(e.as<std::string>());
        }
        return out;
    }

    // The i-th element's node, for error positions (the list itself for a scalar).
    static YAML::Node at(const YAML::Node& n, size_t i) { return n.IsSequence() ? n[i] : n; }

    std::vector<std::string> currencies(const YAML::Node& n, const std::string& what) const {
        auto v = strings(n, what);
        for (size_t i = 0; i < v.size(); ++i)
            if (!find_currency(v[i])) fail(at(n, i), "unknown ISO 4217 currency `" + v[i] + "`");
        return v;
    }

    std::vector<std::string> countries(const YAML::Node& n, const std::string& what) const {
        auto v = strings(n, what);
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i].size() != 2 || !std::all_of(v[i].begin(), v[i].end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
                fail(at(n, i), "expected an ISO 3166 alpha-2 country code (two capital letters) in `" + what + "`, got `" + v[i] + "`");
        return v;
    }

    std::vector<std::string> mccs(const YAML::Node& n, const std::string& what) const {
        auto v = strings(n, what);
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i].size() != 4 || v[i].find_first_not_of("0123456789") != std::string::npos)
                fail(at(n, i), "an MCC in `" + what + "` is 4 digits");
        return v;
    }

    BinRange bin_range(const YAML::Node& n, const std::string& s) const {
        auto digits6 = [](const std::string& d) {
            return d.size() == 6 && d.find_first_not_of("0123456789") == std::string::npos;
        };
        const auto dash = s.find('-');
        const std::string lo = s.substr(0, dash), hi = dash == std::string::npos ? lo : s.substr(dash + 1);
        if (!digits6(lo) || !digits6(hi) || lo > hi)
            fail(n, "expected a BIN as 6 digits or a range LOW-HIGH of 6 digits each, got `" + s + "`");
        return {std::stoi(lo), std::stoi(hi)};
    }

    std::vector<BinRange> bins(const YAML::Node& n, const std::string& what) const {
        auto v = strings(n, what);
        std::vector<BinRange> out;
        for (size_t i = 0; i < v.size(); ++i) out.push_back(bin_range(at(n, i), v[i]));
        return out;
    }

private:
    const std::string& source_;
};

std::optional<CountryByCidr> parse_cidr(const std::string& s) {
    const auto slash = s.find('/');
    if (slash == std::string::npos) return std::nullopt;
    uint32_t addr = 0;
    std::string_view ip(s.data(), slash);
    for (int part = 0; part < 4; ++part) {
        const auto dot = ip.find('.');
        if ((part < 3) != (dot != std::string_view::npos)) return std::nullopt;  // exactly four octets
        const auto octet = ip.substr(0, dot);
        if (octet.empty() || octet.size() > 3 || octet.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        const int v = std::stoi(std::string(octet));
        if (v > 255) return std::nullopt;
        addr = (addr << 8) | static_cast<uint32_t>(v);
        ip = dot == std::string_view::npos ? std::string_view{} : ip.substr(dot + 1);
    }
    const std::string len = s.substr(slash + 1);
    if (len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    const int bits = std::stoi(len);
    if (bits > 32) return std::nullopt;
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return CountryByCidr{addr & mask, mask, {}};
}

}  // namespace

int32_t bin6_of(const std::string& bin) {
    if (bin.size() < 6) return -1;
    int32_t v = 0;
    for (size_t i = 0; i < 6; ++i) {
        if (bin[i] < '0' || bin[i] > '9') return -1;
        v = v * 10 + (bin[i] - '0');
    }
    return v;
}

std::string_view card_scheme(const std::string& bin) {
    const int32_t b = bin6_of(bin);
    if (b < 0) return "";
    const int32_t p2 = b / 10000, p3 = b / 1000, p4 = b / 100;
    if (b / 100000 == 4) return "visa";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return "mastercard";
    if (p2 == 34 || p2 == 37) return "amex";
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) return "discover";
    if (p4 >= 3528 && p4 <= 3589) return "jcb";
    if (p2 == 62) return "unionpay";
    if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305)) return "diners";
    return "";
}

std::string_view to_string(RouteAction a) {
    switch (a) {
        case RouteAction::fallback: return "fallback";
        case RouteAction::split: return "split";
        case RouteAction::least_cost: return "least_cost";
        case RouteAction::health: return "health";
    }
    return "fallback";
}

int64_t RiskPolicy::max_velocity_window_ms() const {
    int64_t m = 0;
    for (const auto& r : rules)
        if (r.kind == RiskRuleKind::velocity) m = std::max(m, r.window_ms);
    return m;
}

RoutingPolicy parse_routing_rules(const YAML::Node& routes, const std::string& source,
                                 const std::vector<ChannelConfig>& channels) {
    RuleReader r(source);
    if (!routes.IsSequence() || routes.size() == 0) r.fail(routes, "expected a non-empty list of routes");
    std::set<std::string> ids, names;
    for (const auto& c : channels) ids.insert(c.id);
    auto channel_list = [&](const YAML::Node& n, const std::string& what) {
        auto v = r.strings(n, what);
        if (v.empty()) r.fail(n, "`" + what + "` needs at least one channel");
        std::set<std::string> seen;
        for (size_t i = 0; i < v.size(); ++i) {
            if (!ids.count(v[i])) r.fail(RuleReader::at(n, i), "route plan names unknown channel `" + v[i] + "`");
            if (!seen.insert(v[i]).second) r.fail(RuleReader::at(n, i), "channel `" + v[i] + "` listed twice");
        }
        return v;
    };
    RoutingPolicy out;
    for (const auto& e : routes) {
        r.only_keys(e, "router.routes[]", {"name", "when", "plan", "split", "least_cost", "health"});
        RouteRule rule;
        auto name = e["name"];
        if (!name || !name.IsScalar() || name.as<std::string>().empty()) r.fail(e, "a route needs a `name`");
        rule.name = name.as<std::string>();
        if (!names.insert(rule.name).second) r.fail(name, "duplicate route name `" + rule.name + "`");
        if (auto w = e["when"]) {
            r.only_keys(w, "router.routes[].when",
                        {"instrument", "scheme", "bin", "currency", "merchant_id", "mcc", "merchant_country", "type",
                         "customer_country", "amount"});
            auto& c = rule.when;
            c.currencies = r.currencies(w["currency"], "when.currency");
            auto kinds = r.strings(w["instrument"], "when.instrument");
            for (size_t i = 0; i < kinds.size(); ++i) {
                auto k = parse_instrument_kind(kinds[i]);
                if (!k)
                    r.fail(RuleReader::at(w["instrument"], i),
                           "unknown instrument kind `" + kinds[i] + "` (card, card_token, wallet, bank_account)");
                c.instrument_kinds.push_back(*k);
            }
            c.schemes = r.strings(w["scheme"], "when.scheme");
            for (size_t i = 0; i < c.schemes.size(); ++i) {
                static const std::set<std::string> known{"visa", "mastercard", "amex", "discover", "jcb", "unionpay", "diners"};
                if (!known.count(c.schemes[i]))
                    r.fail(RuleReader::at(w["scheme"], i), "unknown card scheme `" + c.schemes[i] +
                                                                "` (visa, mastercard, amex, discover, jcb, unionpay, diners)");
            }
            c.bins = r.bins(w["bin"], "when.bin");
            c.merchant_ids = r.strings(w["merchant_id"], "when.merchant_id");
            c.mccs = r.mccs(w["mcc"], "when.mcc");
            c.merchant_countries = r.countries(w["merchant_country"], "when.merchant_country");
            c.customer_countries = r.countries(w["customer_country"], "when.customer_country");
            auto types = r.strings(w["type"], "when.type");
            for (size_t i = 0; i < types.size(); ++i) {
                auto t = parse_payment_type(types[i]);
                if (!t || is_follow_up(*t))
                    r.fail(RuleReader::at(w["type"], i),
                           "`when.type` is sale or authorize (capture, void and refund follow their original)");
                c.types.push_back(*t);
            }
            if (auto a = w["amount"]) {
                r.only_keys(a, "when.amount", {"min", "max"});
                c.amount_min = r.integer(a, "min", 0, 0, kMaxAmountMinor);
                c.amount_max = r.integer(a, "max", std::numeric_limits<int64_t>::max(), 0, kMaxAmountMinor);
                if (c.amount_min > c.amount_max) r.fail(a, "`when.amount.min` is above `max`");
            }
        }
        const int actions = !!e["plan"] + !!e["split"] + !!e["least_cost"] + !!e["health"];
        if (actions != 1) r.fail(e, "a route needs exactly one of `plan`, `split`, `least_cost`, `health`");
        if (auto p = e["plan"]) {
            rule.action = RouteAction::fallback;
            rule.channels = channel_list(p, "plan");
        } else if (auto s = e["split"]) {
            rule.action = RouteAction::split;
            if (!s.IsSequence() || s.size() == 0) r.fail(s, "expected a list of {channel, weight} for `split`");
            std::set<std::string> seen;
            for (const auto& x : s) {
                r.only_keys(x, "split[]", {"channel", "weight"});
                if (!x["channel"] || !x["weight"]) r.fail(x, "a split entry needs `channel` and `weight`");
                const auto ch = x["channel"].as<std::string>();
                if (!ids.count(ch)) r.fail(x["channel"], "route plan names unknown channel `" + ch + "`");
                if (!seen.insert(ch).second) r.fail(x["channel"], "channel `" + ch + "` listed twice");
                rule.channels.push_back(ch);
                rule.weights.push_back(static_cast<int>(r.integer(x["weight"], "split[].weight", 1, 1'000'000)));
            }
        } else if (auto l = e["least_cost"]) {
            rule.action = RouteAction::least_cost;
            rule.channels = channel_list(l, "least_cost");
        } else {
            auto h = e["health"];
            rule.action = RouteAction::health;
            r.only_keys(h, "router.routes[].health", {"channels", "explore_percent"});
            if (!h["channels"]) r.fail(h, "`health` needs `channels`");
            rule.channels = channel_list(h["channels"], "health.channels");
            rule.explore_percent = static_cast<int>(r.integer(h, "explore_percent", 5, 0, 50));
        }
        out.rules.push_back(std::move(rule));
    }
    return out;
}

RiskPolicy parse_risk_rules(const YAML::Node& risk, const std::string& source) {
    RuleReader r(source);
    r.only_keys(risk, "risk",
                {"decline_score", "review_score", "velocity_retention_hours", "card_countries", "ip_countries", "rules",
                 "amount_limits", "amount_limit_score", "bin_blocklist", "bin_blocklist_score"});
    RiskPolicy out;
    out.decline_score = static_cast<int>(r.integer(risk, "decline_score", 100, 1, 1'000'000));
    out.review_score = static_cast<int>(r.integer(risk, "review_score", 0, 0, 1'000'000));
    if (out.review_score >= out.decline_score && risk["review_score"])
        r.fail(risk["review_score"], "`risk.review_score` must be below `decline_score`");
    out.velocity_retention_hours = static_cast<int>(r.integer(risk, "velocity_retention_hours", 24, 1, 24 * 365));
    std::set<std::string> names;

    // The short forms of earlier configs: `amount_limits` + `bin_blocklist`, each one rule.
    if (auto al = risk["amount_limits"]) {
        r.only_keys(al, "risk.amount_limits", {"default", "per_currency"});
        const int score = static_cast<int>(r.integer(risk, "amount_limit_score", 100, 0, 1'000'000));
        std::vector<std::string> listed;
        if (auto pc = al["per_currency"]) {
            if (!pc.IsMap()) r.fail(pc, "expected a mapping currency → limit");
            for (const auto& kv : pc) {
                auto cur = kv.first.as<std::string>();
                if (!find_currency(cur)) r.fail(kv.first, "unknown ISO 4217 currency `" + cur + "`");
                RiskRule rule{"amount_limit", RiskRuleKind::amount_limit, score};
                rule.currencies = {cur};
                rule.max_amount = r.integer(kv.second, "per_currency." + cur, 1, kMaxAmountMinor);
                out.rules.push_back(std::move(rule));
                listed.push_back(cur);
            }
        }
        if (const int64_t def = r.integer(al, "default", 0, 0, kMaxAmountMinor); def > 0) {
            RiskRule rule{"amount_limit", RiskRuleKind::amount_limit, score};
            rule.except_currencies = listed;  // the currencies with a limit of their own
            rule.max_amount = def;
            out.rules.push_back(std::move(rule));
        }
        names.insert("amount_limit");
    }
    if (auto bl = risk["bin_blocklist"]) {
        RiskRule rule{"bin_blocklist", RiskRuleKind::block,
                      static_cast<int>(r.integer(risk, "bin_blocklist_score", 100, 0, 1'000'000))};
        rule.bins = r.bins(bl, "bin_blocklist");
        out.rules.push_back(std::move(rule));
        names.insert("bin_blocklist");
    }

    if (auto cc = risk["card_countries"]) {
        if (!cc.IsSequence()) r.fail(cc, "expected a list of {bins, country} for `risk.card_countries`");
        for (const auto& e : cc) {
            r.only_keys(e, "risk.card_countries[]", {"bins", "country"});
            if (!e["bins"] || !e["country"]) r.fail(e, "a card country entry needs `bins` and `country`");
            const auto country = r.countries(e["country"], "card_countries[].country");
            for (const auto& b : r.bins(e["bins"], "card_countries[].bins")) out.card_countries.push_back({b, country.at(0)});
        }
    }
    if (auto ic = risk["ip_countries"]) {
        if (!ic.IsSequence()) r.fail(ic, "expected a list of {cidr, country} for `risk.ip_countries`");
        for (const auto& e : ic) {
            r.only_keys(e, "risk.ip_countries[]", {"cidr", "country"});
            if (!e["cidr"] || !e["country"]) r.fail(e, "an IP country entry needs `cidr` and `country`");
            const auto country = r.countries(e["country"], "ip_countries[].country");
            for (size_t i = 0; auto& s : r.strings(e["cidr"], "ip_countries[].cidr")) {
                auto c = parse_cidr(s);
                if (!c) r.fail(RuleReader::at(e["cidr"], i), "expected an IPv4 CIDR such as 192.0.2.0/24, got `" + s + "`");
                c->country = country.at(0);
                out.ip_countries.push_back(std::move(*c));
                ++i;
            }
        }
        // Most specific network first, so a /24 inside a /8 wins.
        std::stable_sort(out.ip_countries.begin(), out.ip_countries.end(),
                         [](const auto& a, const auto& b) { return a.mask > b.mask; });
    }

    if (auto rules = risk["rules"]) {
        if (!rules.IsSequence()) r.fail(rules, "expected a list of rules for `risk.rules`");
        for (const auto& e : rules) {
            r.only_keys(e, "risk.rules[]", {"name", "score", "amount_limit", "block", "velocity", "country_mismatch"});
            RiskRule rule;
            auto name = e["name"];
            if (!name || !name.IsScalar() || name.as<std::string>().empty()) r.fail(e, "a risk rule needs a `name`");
            rule.name = name.as<std::string>();
            if (rule.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
                r.fail(name, "a risk rule name is lower-case letters, digits and `_` (it becomes reason risk_<name>)");
            if (!names.insert(rule.name).second) r.fail(name, "duplicate risk rule name `" + rule.name + "`");
            rule.score = static_cast<int>(r.integer(e, "score", 100, 0, 1'000'000));
            const int kinds = !!e["amount_limit"] + !!e["block"] + !!e["velocity"] + !!e["country_mismatch"];
            if (kinds != 1) r.fail(e, "a risk rule needs exactly one of `amount_limit`, `block`, `velocity`, `country_mismatch`");
            if (auto a = e["amount_limit"]) {
                rule.kind = RiskRuleKind::amount_limit;
                r.only_keys(a, "amount_limit", {"currency", "mcc", "max"});
                if (!a["max"]) r.fail(a, "`amount_limit` needs `max` (minor units)");
                rule.currencies = r.currencies(a["currency"], "amount_limit.currency");
                rule.mccs = r.mccs(a["mcc"], "amount_limit.mcc");
                rule.max_amount = r.integer(a["max"], "amount_limit.max", 0, kMaxAmountMinor);
            } else if (auto b = e["block"]) {
                rule.kind = RiskRuleKind::block;
                r.only_keys(b, "block", {"bin", "card_country", "customer_country", "fingerprint"});
                rule.bins = r.bins(b["bin"], "block.bin");
                rule.card_countries = r.countries(b["card_country"], "block.card_country");
                rule.customer_countries = r.countries(b["customer_country"], "block.customer_country");
                rule.fingerprints = r.strings(b["fingerprint"], "block.fingerprint");
                if (rule.bins.empty() && rule.card_countries.empty() && rule.customer_countries.empty() &&
                    rule.fingerprints.empty())
                    r.fail(b, "`block` needs at least one of `bin`, `card_country`, `customer_country`, `fingerprint`");
            } else if (auto v = e["velocity"]) {
                rule.kind = RiskRuleKind::velocity;
                r.only_keys(v, "velocity", {"per", "window_seconds", "max_count", "max_amount", "currency"});
                const auto per = v["per"] ? v["per"].as<std::string>() : std::string();
                if (per != "instrument" && per != "merchant") r.fail(v["per"] ? v["per"] : v, "`velocity.per` is instrument or merchant");
                rule.per_merchant = per == "merchant";
                if (!v["window_seconds"]) r.fail(v, "`velocity` needs `window_seconds`");
                rule.window_ms = r.integer(v["window_seconds"], "velocity.window_seconds", 1, 3600LL * out.velocity_retention_hours) * 1000;
                rule.max_count = r.integer(v, "max_count", 0, 1, 1'000'000'000);
                rule.max_amount = r.integer(v, "max_amount", 0, 1, kMaxAmountMinor);
                if (!rule.max_count && !rule.max_amount) r.fail(v, "`velocity` needs `max_count` or `max_amount`");
                if (rule.max_count && rule.max_amount) r.fail(v, "one `velocity` rule limits either `max_count` or `max_amount`");
                if (rule.max_amount) {
                    if (!v["currency"]) r.fail(v, "`velocity.max_amount` needs `currency`");
                    rule.currency = r.currencies(v["currency"], "velocity.currency").at(0);
                }
            } else {
                rule.kind = RiskRuleKind::country_mismatch;
                auto m = e["country_mismatch"];
                if (!(m.IsMap() && m.size() == 0) && !(m.IsScalar() && m.as<std::string>() == "true"))
                    r.fail(m, "`country_mismatch` takes no settings: write `country_mismatch: {}`");
            }
            out.rules.push_back(std::move(rule));
        }
    }
    return out;
}

}  // namespace turnout
