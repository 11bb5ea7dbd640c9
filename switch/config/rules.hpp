#pragma once
// Routing and risk rules as data (docs/routing-and-risk.md). They live in the config file
// under `router.routes` and `risk`; parse_routing_rules / parse_risk_rules validate them
// and throw ConfigError naming file:line:column, both at start-up and on a hot reload.
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "model/payment.hpp"

namespace turnout {

struct ChannelConfig;

// Inclusive range over the first six digits of a BIN: "400000-499999" or "411111".
struct BinRange {
    int32_t lo = 0, hi = 0;
    bool contains(int32_t bin6) const { return bin6 >= lo && bin6 <= hi; }
};

// The first six digits of a BIN as a number, -1 when there are fewer than six digits.
int32_t bin6_of(const std::string& bin);
// Card scheme by BIN prefix: visa, mastercard, amex, discover, jcb, unionpay, diners,
// or "" when none of these.
std::string_view card_scheme(const std::string& bin);

// Conditions of a routing rule; an empty list (or an absent amount bound) matches anything.
struct RouteConditions {
    std::vector<InstrumentKind> instrument_kinds;
    std::vector<std::string> schemes;
    std::vector<BinRange> bins;
    std::vector<std::string> currencies;
    std::vector<std::string> merchant_ids, mccs, merchant_countries;
    std::vector<PaymentType> types;
    std::vector<std::string> customer_countries;
    int64_t amount_min = 0;
    int64_t amount_max = std::numeric_limits<int64_t>::max();
};

enum class RouteAction { fallback, split, least_cost, health };
std::string_view to_string(RouteAction a);

struct RouteRule {
    std::string name;
    RouteConditions when;
    RouteAction action = RouteAction::fallback;
    std::vector<std::string> channels;  // in listed order
    std::vector<int> weights;           // split: one per channel, > 0
    int explore_percent = 0;            // health: share sent to a non-best channel
};

struct RoutingPolicy {
    std::vector<RouteRule> rules;
};

enum class RiskRuleKind { amount_limit, block, velocity, country_mismatch };

struct RiskRule {
    std::string name;
    RiskRuleKind kind = RiskRuleKind::amount_limit;
    int score = 100;
    // amount_limit: hits when amount > max and the currency / MCC lists (empty = any) match.
    std::vector<std::string> currencies, mccs;
    std::vector<std::string> except_currencies;  // not these (the short form's `default`)
    int64_t max_amount = 0;
    // block: hits when any listed value matches.
    std::vector<BinRange> bins;
    std::vector<std::string> card_countries, customer_countries, fingerprints;
    // velocity: per instrument fingerprint or per merchant id, over the last window_ms
    // (this payment included); max_count > 0 and/or max_amount > 0 in `currency`.
    bool per_merchant = false;
    int64_t window_ms = 0;
    int64_t max_count = 0;
    std::string currency;
};

struct CountryByBin {
    BinRange bins;
    std::string country;
};

struct CountryByCidr {
    uint32_t network = 0, mask = 0;  // IPv4
    std::string country;
};

struct RiskPolicy {
    int decline_score = 100;
    int review_score = 0;  // 0 = no review band
    std::vector<RiskRule> rules;
    std::vector<CountryByBin> card_countries;
    std::vector<CountryByCidr> ip_countries;
    int velocity_retention_hours = 24;  // of the velocity changelog; bounds every window
    int64_t max_velocity_window_ms() const;
    bool has_velocity() const { return max_velocity_window_ms() > 0; }
};

// Throw ConfigError("source:line:col: ..."); `node` is the `router.routes` list / the `risk`
// mapping. Channel ids are checked against `channels`; fees come from them too.
RoutingPolicy parse_routing_rules(const YAML::Node& node, const std::string& source,
                                 const std::vector<ChannelConfig>& channels);
RiskPolicy parse_risk_rules(const YAML::Node& node, const std::string& source);

}  // namespace turnout
