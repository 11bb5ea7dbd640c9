#include "domain/fees.hpp"

#include <stdexcept>

namespace turnout {

int64_t percentage_fee(int64_t amount, int64_t bps) {
    if (amount < 0 || bps < 0) throw std::invalid_argument("percentage_fee: negative amount or rate");
    // 128-bit product: amount (≤ 2^63) × bps (≤ 10 000) cannot overflow it.
    const __int128 scaled = static_cast<__int128>(amount) * bps;
    const __int128 fee = (scaled + 5'000) / 10'000;
    if (fee > INT64_MAX) throw std::overflow_error("fee overflows int64");
    return static_cast<int64_t>(fee);
}

int64_t fee_for(const FeeRule& rule, const ClearingRecord& rec) {
    if (rec.amount <= 0) return 0;  // refunds carry no fee
    int64_t fee = 0;
    if (__builtin_add_overflow(rule.fixed_minor, percentage_fee(rec.amount, rule.bps), &fee))
        throw std::overflow_error("fee overflows int64");
    return fee;
}

FeeSchedule::FeeSchedule(const std::vector<ChannelConfig>& channels) {
    for (const auto& ch : channels) {
        by_channel_[ch.id] = ch.fees;
        for (const auto& [cur, rule] : ch.fees_per_currency) by_channel_currency_[{ch.id, cur}] = rule;
    }
}

int64_t FeeSchedule::fee_for(const ClearingRecord& rec) const {
    if (auto it = by_channel_currency_.find({rec.channel, rec.currency}); it != by_channel_currency_.end())
        return turnout::fee_for(it->second, rec);
    if (auto it = by_channel_.find(rec.channel); it != by_channel_.end()) return turnout::fee_for(it->second, rec);
    return 0;
}

}  // namespace turnout
