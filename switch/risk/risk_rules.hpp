#pragma once
// Risk scoring: each rule that hits adds its weight; at or above the decline score the
// payment is declined. Follow-ups (capture, void, refund) are not scored.
#include "config/config.hpp"
#include "model/payment.hpp"

namespace turnout {

class RiskRules {
public:
    explicit RiskRules(RiskConfig cfg);
    RiskAssessment assess(const RoutedPayment& p) const;

private:
    RiskConfig cfg_;
};

}  // namespace turnout
