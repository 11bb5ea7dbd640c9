#pragma once
// Channel fees on clearing records, in integer minor units. A debit (sale or capture) of
// amount A costs fixed_minor + round_half_up(A × bps / 10 000); a refund costs nothing.
// The rule is the channel's `fees.per_currency.<CUR>` if present, else its `fees`.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "model/settlement.hpp"

namespace turnout {

// amount × bps / 10 000 rounded half-up (x.5 minor units → x+1); amount ≥ 0.
int64_t percentage_fee(int64_t amount, int64_t bps);
int64_t fee_for(const FeeRule& rule, const ClearingRecord& rec);

class FeeSchedule {
public:
    FeeSchedule() = default;
    explicit FeeSchedule(const std::vector<ChannelConfig>& channels);
    int64_t fee_for(const ClearingRecord& rec) const;

private:
    std::map<std::string, FeeRule> by_channel_;
    std::map<std::pair<std::string, std::string>, FeeRule> by_channel_currency_;
};

}  // namespace turnout
