#include "model/payment.hpp"

#include <array>

namespace turnout {
namespace {
constexpr std::array<std::string_view, 5> kTypes{"sale", "authorize", "capture", "void", "refund"};
constexpr std::array<std::string_view, 4> kKinds{"card", "card_token", "wallet", "bank_account"};
constexpr std::array<std::string_view, 5> kStatuses{"approved", "declined", "failed", "rejected",
                                                    "reversed"};

template <typename E, size_t N>
std::optional<E> parse_enum(const std::array<std::string_view, N>& names, std::string_view s) {
    for (size_t i = 0; i < N; ++i)
        if (names[i] == s) return static_cast<E>(i);
    return std::nullopt;
}
}  // namespace

std::string_view to_string(PaymentType t) { return kTypes[static_cast<size_t>(t)]; }
std::string_view to_string(InstrumentKind k) { return kKinds[static_cast<size_t>(k)]; }
std::string_view to_string(ResultStatus s) { return kStatuses[static_cast<size_t>(s)]; }
std::optional<PaymentType> parse_payment_type(std::string_view s) {
    return parse_enum<PaymentType>(kTypes, s);
}
std::optional<InstrumentKind> parse_instrument_kind(std::string_view s) {
    return parse_enum<InstrumentKind>(kKinds, s);
}
std::optional<ResultStatus> parse_result_status(std::string_view s) {
    return parse_enum<ResultStatus>(kStatuses, s);
}

PaymentResult make_rejected_result(std::string payment_id, std::string root_id, Reason reason,
                                   int64_t now_ms) {
    PaymentResult r;
    r.payment_id = std::move(payment_id);
    r.root_id = root_id.empty() ? r.payment_id : std::move(root_id);
    r.status = ResultStatus::rejected;
    r.reason = std::move(reason);
    r.times.received_at = now_ms;
    r.times.completed_at = now_ms;
    return r;
}

PaymentResult result_for(const RoutedPayment& p, ResultStatus status, Reason reason, int64_t now_ms) {
    const auto& q = p.request;
    PaymentResult r;
    r.payment_id = q.payment_id;
    r.root_id = q.root_id();
    r.type = q.type;
    r.status = status;
    r.reason = std::move(reason);
    r.amount = q.amount;
    r.merchant_id = q.merchant.id;
    r.risk = p.risk;
    r.route = p.route;
    if (q.instrument)
        r.instrument = InstrumentView{q.instrument->kind, q.instrument->fingerprint, q.instrument->bin,
                                      q.instrument->last4};
    r.original = q.original;
    r.times = p.times;
    r.times.completed_at = now_ms;
    return r;
}

}  // namespace turnout
