#include "risk/risk_rules.hpp"

#include <algorithm>

namespace turnout {

RiskRules::RiskRules(RiskConfig cfg) : cfg_(std::move(cfg)) {}

RiskAssessment RiskRules::assess(const RoutedPayment& p) const {
    RiskAssessment a;
    const auto& q = p.request;
    if (is_follow_up(q.type)) {
        a.decision = "skipped";
        return a;
    }
    auto limit_it = cfg_.amount_limit_per_currency.find(q.amount.currency);
    const int64_t limit = limit_it != cfg_.amount_limit_per_currency.end() ? limit_it->second : cfg_.default_amount_limit;
    if (limit > 0 && q.amount.value > limit) {
        a.score += cfg_.amount_limit_score;
        a.rules_hit.emplace_back("amount_limit");
    }
    if (q.instrument && !q.instrument->bin.empty()) {
        const auto& bl = cfg_.bin_blocklist;
        if (std::find(bl.begin(), bl.end(), q.instrument->bin) != bl.end()) {
            a.score += cfg_.bin_blocklist_score;
            a.rules_hit.emplace_back("bin_blocklist");
        }
    }
    a.decision = a.score >= cfg_.decline_score ? "decline" : "approve";
    return a;
}

}  // namespace turnout
