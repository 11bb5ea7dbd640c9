#pragma once
// Risk scoring (docs/routing-and-risk.md): each rule that hits adds its score; at or above
// risk.decline_score the payment is declined, at or above risk.review_score (when set) it
// goes on marked `review`, else `approve`. Follow-ups (capture, void, refund) are not scored.
// Pure: the velocity book and the time are inputs.
#include <string_view>

#include "config/config.hpp"
#include "model/payment.hpp"
#include "risk/velocity.hpp"

namespace turnout {

class RiskScorer {
public:
    explicit RiskScorer(const RiskPolicy& policy) : p_(policy) {}
    // `book` may be null (velocity rules then never hit).
    RiskAssessment assess(const RoutedPayment& p, const VelocityBook* book = nullptr, int64_t now_ms = 0) const;

    // The card's issuing country from risk.card_countries by BIN; "" when unknown.
    std::string_view card_country(const Instrument& in) const;
    // The customer's country: risk.ip_countries by customer.ip, else customer.country; "" when unknown.
    std::string_view customer_country(const PaymentRequest& r) const;

private:
    const RiskPolicy& p_;
};

// Parses a dotted IPv4 address; false if it is not one.
bool parse_ipv4(std::string_view s, uint32_t& out);

}  // namespace turnout
