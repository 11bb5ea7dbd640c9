#pragma once
// Realistic payment requests for load and tests: mixed types, currencies and instruments,
// Luhn-valid cards, amounts that drive every simulator outcome, a few percent invalid on
// purpose, and follow-ups (capture, void, refund) of approved originals.
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "model/payment.hpp"

namespace turnout {

struct GeneratedRequest {
    std::string payment_id;  // empty when the record deliberately has none readable
    std::string key;         // root id
    std::string value;
    std::string label;       // sale, authorize, capture, void, refund, or invalid:<code>
    bool expects_result = true;
    std::optional<PaymentType> type;
    Money amount;
};

struct FactoryMix {
    double invalid_share = 0.03;
    double authorize_share = 0.3;
    double refund_share = 0.1;  // of approved sales
    double void_share = 0.2;    // of approved authorizes (the rest are captured)
};

class RequestFactory {
public:
    RequestFactory(uint64_t seed, std::string run_id, FactoryMix mix = {});

    GeneratedRequest next_initial();
    // A follow-up for an approved sale or authorize, or nullopt when the mix says none.
    std::optional<GeneratedRequest> follow_up_for(const PaymentResult& approved);

    static std::string luhn_complete(std::string digits_without_check);

private:
    GeneratedRequest invalid(PaymentRequest base);
    std::string next_id(const char* prefix);
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

    std::mt19937_64 rng_;
    std::string run_id_;
    FactoryMix mix_;
    uint64_t seq_ = 0;
};

}  // namespace turnout
