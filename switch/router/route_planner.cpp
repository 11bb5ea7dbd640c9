#include "router/route_planner.hpp"

#include <algorithm>
#include <tuple>

#include "domain/fees.hpp"

namespace turnout {
namespace {

template <typename T>
bool any_of_or_empty(const std::vector<T>& list, const T& v) {
    return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}

const ChannelHealth* fresh(const HealthMap* health, const std::string& channel, int64_t now) {
    if (!health) return nullptr;
    auto it = health->find(channel);
    if (it == health->end() || now - it->second.updated_at_ms > kHealthStaleMs) return nullptr;
    return &it->second;
}

// A stable insertion sort: plans hold a few channels, and std::stable_sort allocates.
template <typename Less>
void small_stable_sort(std::vector<std::string>& v, Less less) {
    for (size_t i = 1; i < v.size(); ++i)
        for (size_t j = i; j > 0 && less(v[j], v[j - 1]); --j) std::swap(v[j], v[j - 1]);
}

}  // namespace

uint64_t stable_hash(std::string_view s) {
    uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

bool route_matches(const RouteConditions& c, const PaymentRequest& r) {
    if (!any_of_or_empty(c.currencies, r.amount.currency)) return false;
    if (!any_of_or_empty(c.types, r.type)) return false;
    if (r.amount.value < c.amount_min || r.amount.value > c.amount_max) return false;
    if (!any_of_or_empty(c.merchant_ids, r.merchant.id) || !any_of_or_empty(c.mccs, r.merchant.mcc) ||
        !any_of_or_empty(c.merchant_countries, r.merchant.country))
        return false;
    if (!c.customer_countries.empty() &&
        (!r.customer || !any_of_or_empty(c.customer_countries, r.customer->country)))
        return false;
    if (!c.instrument_kinds.empty() && (!r.instrument || !any_of_or_empty(c.instrument_kinds, r.instrument->kind)))
        return false;
    if (!c.schemes.empty() || !c.bins.empty()) {
        // Scheme and BIN conditions need a card BIN (a clear card or a token that carries one).
        const std::string bin = r.instrument ? (!r.instrument->bin.empty() ? r.instrument->bin : r.instrument->pan.substr(0, std::min<size_t>(8, r.instrument->pan.size()))) : std::string();
        if (!c.schemes.empty() &&
            std::find(c.schemes.begin(), c.schemes.end(), card_scheme(bin)) == c.schemes.end())
            return false;
        if (!c.bins.empty()) {
            const int32_t b = bin6_of(bin);
            if (b < 0 || std::none_of(c.bins.begin(), c.bins.end(), [&](const BinRange& x) { return x.contains(b); }))
                return false;
        }
    }
    return true;
}

RoutePlanner::RoutePlanner(std::vector<RouteRule> rules, const std::vector<ChannelConfig>& channels)
    : rules_(std::move(rules)) {
    for (const auto& c : channels) {
        auto& f = fees_[c.id];
        f.any = c.fees;
        for (const auto& [cur, rule] : c.fees_per_currency) f.per_currency.emplace(cur, rule);
    }
}

int64_t RoutePlanner::fee(const std::string& channel, const Money& amount) const {
    auto it = fees_.find(channel);
    if (it == fees_.end()) return 0;
    auto pc = it->second.per_currency.find(amount.currency);
    const FeeRule& rule = pc != it->second.per_currency.end() ? pc->second : it->second.any;
    return rule.fixed_minor + percentage_fee(amount.value, rule.bps);
}

std::optional<RoutePlan> RoutePlanner::plan(const PaymentRequest& r, const HealthMap* health, int64_t now) const {
    if (is_follow_up(r.type)) {
        if (!r.original) return std::nullopt;
        return RoutePlan{"original_channel", {r.original->channel}, {}, "original_channel", {}};
    }
    const RouteRule* rule = nullptr;
    for (const auto& x : rules_)
        if (route_matches(x.when, r)) {
            rule = &x;
            break;
        }
    if (!rule) return std::nullopt;

    RoutePlan plan;
    plan.rule = rule->name;
    plan.action = std::string(to_string(rule->action));
    auto& out = plan.channels;
    out = rule->channels;
    const uint64_t h = stable_hash(r.payment_id);
    switch (rule->action) {
        case RouteAction::fallback: break;
        case RouteAction::split: {
            int64_t total = 0;
            for (int w : rule->weights) total += w;
            int64_t pick = static_cast<int64_t>(h % static_cast<uint64_t>(total));
            size_t chosen = 0;
            while (pick >= rule->weights[chosen]) pick -= rule->weights[chosen++];
            // The chosen channel first, the others in listed order as fallbacks.
            std::rotate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(chosen), out.begin() + static_cast<std::ptrdiff_t>(chosen) + 1);
            break;
        }
        case RouteAction::least_cost:
            small_stable_sort(out, [&](const std::string& a, const std::string& b) { return fee(a, r.amount) < fee(b, r.amount); });
            break;
        case RouteAction::health: {
            // Best success rate first, then lowest latency; channels without a fresh report
            // after the measured ones, in listed order.
            auto key = [&](const std::string& c) {
                const auto* s = fresh(health, c, now);
                return s ? std::tuple<int, int, int>{0, -s->success_permille, s->latency_ms} : std::tuple<int, int, int>{1, 0, 0};
            };
            small_stable_sort(out, [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
            // Exploration: a small, hash-chosen share goes to another channel first, so a
            // recovered channel gets traffic again and its figures stay current.
            if (out.size() > 1 && static_cast<int>((h >> 8) % 100) < rule->explore_percent) {
                const size_t other = 1 + static_cast<size_t>((h >> 32) % (out.size() - 1));
                std::rotate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(other), out.begin() + static_cast<std::ptrdiff_t>(other) + 1);
                plan.action = "health_explore";
            }
            break;
        }
    }
    // Leave out channels whose circuit is open, while at least one channel remains.
    const auto down = [&](const std::string& c) {
        const auto* s = fresh(health, c, now);
        return s && s->circuit == ChannelHealth::Circuit::open;
    };
    if (health && std::any_of(out.begin(), out.end(), down)) {
        std::vector<std::string> up;
        for (const auto& c : out) {
            const auto* s = fresh(health, c, now);
            if (s && s->circuit == ChannelHealth::Circuit::open)
                plan.skipped.push_back(c);
            else
                up.push_back(c);
        }
        if (!up.empty()) out = std::move(up);
        else plan.skipped.clear();
    }
    return plan;
}

}  // namespace turnout
