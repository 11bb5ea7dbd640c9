#pragma once
// A channel's settlement report as Turnout reads it for reconciliation (settlement/reconcile)
// and the simulators write it (connectors/simulator): shared vocabulary.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/payment.hpp"

namespace turnout {

// One line of a channel's settlement report. `amount` is signed like a clearing record:
// sale/capture +, refund −; the report holds money-moving executions only.
struct ChannelReportLine {
    std::string payment_id;
    PaymentType type = PaymentType::sale;
    int64_t amount = 0;
    std::string currency;
    std::string channel_ref;
};

// CSV: `payment_id,type,amount_minor,currency,channel_ref` header row, then one row each;
// text cells written and read as in the clearing files (csv_text_cell / csv_cell_text).
std::string render_channel_report(const std::vector<ChannelReportLine>& lines);
std::optional<std::vector<ChannelReportLine>> parse_channel_report(std::string_view text, std::string& why);

}  // namespace turnout
