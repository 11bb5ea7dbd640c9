#pragma once
// Realistic payment requests for load and tests: mixed types, currencies and instruments,
// Luhn-valid cards, amounts that drive every simulator outcome, a few percent invalid on
// purpose, and follow-ups (capture, void, refund) of approved originals.
#include <cstdint>
#include <optional>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>

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
    bool expect_refusal = false;  // a life-cycle step the router must refuse (over-capture, ...)
};

struct FactoryMix {
    double invalid_share = 0.03;
    double authorize_share = 0.3;
    double refund_share = 0.1;  // of approved sales
    double void_share = 0.2;    // of approved authorizes (the rest are captured)
    double split_capture_share = 0.3;   // of captured authorizes: two or three partial captures
    double capture_refund_share = 0.2;  // of captured authorizes: then one or two partial refunds
    double invalid_step_share = 0.03;   // of life cycles: a last step the router must refuse
};

// Follow-ups an approved original is expected to spawn, on average, under `mix`.
double expected_follow_ups(const FactoryMix& mix);

class RequestFactory {
public:
    RequestFactory(uint64_t seed, std::string run_id, FactoryMix mix = {});

    GeneratedRequest next_initial();
    // The next step of a payment's life cycle once `result` (of its original or of its
    // previous step) has arrived: an approved sale or authorize gets a plan from the mix
    // (captures, a void, refunds, maybe a last step the router must refuse), sent one step
    // per result. nullopt when the life cycle has no further step.
    std::optional<GeneratedRequest> follow_up_for(const PaymentResult& result);

    static std::string luhn_complete(std::string digits_without_check);

private:
    GeneratedRequest invalid(PaymentRequest base);
    std::string next_id(const char* prefix);
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

    struct Step {
        PaymentType type;
        int64_t amount;
        bool expect_refusal;
    };
    struct LifePlan {
        PaymentResult original;
        std::deque<Step> steps;
    };
    std::deque<Step> plan_for(const PaymentResult& original);
    GeneratedRequest make_follow_up(const PaymentResult& original, const Step& step);

    std::unordered_map<std::string, LifePlan> plans_;  // by root id, while steps remain
    std::mt19937_64 rng_;
    std::string run_id_;
    FactoryMix mix_;
    uint64_t seq_ = 0;
};

}  // namespace turnout
