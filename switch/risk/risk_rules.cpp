#include "risk/risk_rules.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace turnout {
namespace {

template <typename T, typename V>
bool listed(const std::vector<T>& list, const V& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

bool parse_ipv4(std::string_view s, uint32_t& out) {
    uint32_t addr = 0;
    for (int part = 0; part < 4; ++part) {
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || v > 255 || ptr == s.data()) return false;
        addr = (addr << 8) | v;
        s.remove_prefix(static_cast<size_t>(ptr - s.data()));
        if (part < 3) {
            if (s.empty() || s.front() != '.') return false;
            s.remove_prefix(1);
        }
    }
    out = addr;
    return s.empty();
}

std::string_view RiskScorer::card_country(const Instrument& in) const {
    const int32_t b = bin6_of(in.bin);
    if (b < 0) return {};
    for (const auto& e : p_.card_countries)
        if (e.bins.contains(b)) return e.country;
    return {};
}

std::string_view RiskScorer::customer_country(const PaymentRequest& r) const {
    if (!r.customer) return {};
    uint32_t ip = 0;
    if (!p_.ip_countries.empty() && parse_ipv4(r.customer->ip, ip))
        for (const auto& e : p_.ip_countries)
            if ((ip & e.mask) == e.network) return e.country;
    return r.customer->country;
}

RiskAssessment RiskScorer::assess(const RoutedPayment& p, const VelocityBook* book, int64_t now) const {
    RiskAssessment a;
    const auto& q = p.request;
    if (is_follow_up(q.type)) {
        a.decision = "skipped";
        return a;
    }
    const Instrument* in = q.instrument ? &*q.instrument : nullptr;
    // Hits are few: a fixed buffer keeps scoring free of allocations until the names are copied.
    std::array<std::pair<int, const std::string*>, 32> hits;
    size_t n_hits = 0;
    for (const auto& rule : p_.rules) {
        bool hit = false;
        switch (rule.kind) {
            case RiskRuleKind::amount_limit:
                hit = q.amount.value > rule.max_amount &&
                      (rule.currencies.empty() || listed(rule.currencies, q.amount.currency)) &&
                      !listed(rule.except_currencies, q.amount.currency) &&
                      (rule.mccs.empty() || listed(rule.mccs, q.merchant.mcc));
                break;
            case RiskRuleKind::block: {
                if (in && !rule.bins.empty()) {
                    const int32_t b = bin6_of(in->bin);
                    hit = b >= 0 && std::any_of(rule.bins.begin(), rule.bins.end(), [&](const BinRange& r) { return r.contains(b); });
                }
                if (!hit && in && !rule.fingerprints.empty()) hit = listed(rule.fingerprints, in->fingerprint);
                if (!hit && in && !rule.card_countries.empty()) {
                    const auto c = card_country(*in);
                    hit = !c.empty() && listed(rule.card_countries, c);
                }
                if (!hit && !rule.customer_countries.empty()) {
                    const auto c = customer_country(q);
                    hit = !c.empty() && listed(rule.customer_countries, c);
                }
                break;
            }
            case RiskRuleKind::velocity: {
                if (!book) break;
                const std::string_view key = rule.per_merchant ? std::string_view(q.merchant.id)
                                             : in                ? std::string_view(in->fingerprint)
                                                                 : std::string_view();
                if (key.empty()) break;
                const int64_t since = now - rule.window_ms + 1;
                if (rule.max_count)
                    hit = book->count(rule.per_merchant, key, since) + 1 > rule.max_count;
                else if (q.amount.currency == rule.currency)
                    hit = book->sum(rule.per_merchant, key, rule.currency, since) + q.amount.value > rule.max_amount;
                break;
            }
            case RiskRuleKind::country_mismatch: {
                if (!in) break;
                const auto card = card_country(*in);
                const auto customer = customer_country(q);
                hit = !card.empty() && !customer.empty() && card != customer;
                break;
            }
        }
        if (!hit) continue;
        // The short form's per-currency limits share one name: count it once.
        if (std::any_of(hits.begin(), hits.begin() + n_hits, [&](const auto& h) { return *h.second == rule.name; })) continue;
        a.score += rule.score;
        if (n_hits < hits.size()) hits[n_hits++] = {rule.score, &rule.name};
    }
    // Highest score first, ties in rule order: the first hit names the decline reason (risk_<rule>).
    for (size_t i = 1; i < n_hits; ++i)
        for (size_t j = i; j > 0 && hits[j].first > hits[j - 1].first; --j) std::swap(hits[j], hits[j - 1]);
    a.rules_hit.reserve(n_hits);
    for (size_t i = 0; i < n_hits; ++i) a.rules_hit.push_back(*hits[i].second);
    a.decision = a.score >= p_.decline_score                             ? "decline"
                 : p_.review_score > 0 && a.score >= p_.review_score ? "review"
                                                                         : "approve";
    return a;
}

}  // namespace turnout
