#include "settlement/settlement_probe.hpp"

namespace turnout {
namespace {
CounterFamily& batches_closed() {
    static auto& f =
        declare_counter("turnout_settlement_batches_total", "Settlement batches closed, by channel and currency");
    return f;
}
CounterFamily& settled_records() {
    static auto& f = declare_counter("turnout_settlement_records_total",
                                     "Clearing records assigned to a batch, by channel and currency");
    return f;
}
CounterFamily& settled_amount() {
    static auto& f = declare_counter("turnout_settlement_amount_minor_total",
                                     "Minor units assigned to settlement batches, by channel, currency and direction");
    return f;
}
}  // namespace

SettlementProbe::SettlementProbe()
    : StageProbe("settlement"),
      open_batches(declare_gauge("turnout_settlement_open_batches", "Settlement batches open in this process").Add({})),
      overdue_batches(declare_gauge("turnout_settlement_overdue_batches",
                                    "Open settlement batches whose window end + grace has passed")
                          .Add({})) {}

SettlementProbe::Settled& SettlementProbe::settled(const std::string& channel, const std::string& currency) {
    if (auto it = settled_.find({channel, currency}); it != settled_.end()) return it->second;
    const std::map<std::string, std::string> cc{{"channel", channel}, {"currency", currency}};
    auto amount = [&](const char* direction) -> prometheus::Counter& {
        auto labels = cc;
        labels["direction"] = direction;
        return settled_amount().Add(labels);
    };
    return settled_
        .try_emplace({channel, currency},
                     Settled{settled_records().Add(cc), amount("debit"), amount("credit"), batches_closed().Add(cc)})
        .first->second;
}

}  // namespace turnout
