#pragma once
// The settlement stage's series (docs/metrics.md, "Settlement"), declared in
// settlement_probe.cpp; those of a (channel, currency) are resolved on its first record, so
// the record path finds them without a family look-up. Records in/out, DLQ and results come
// with StageProbe.
#include <map>
#include <string>
#include <utility>

#include "kafka/stage_probe.hpp"

namespace turnout {

class SettlementProbe : public StageProbe {
public:
    SettlementProbe();

    struct Settled {
        prometheus::Counter& records;  // turnout_settlement_records_total
        prometheus::Counter& debit;    // turnout_settlement_amount_minor_total{direction="debit"}
        prometheus::Counter& credit;   // ... {direction="credit"}
        prometheus::Counter& batches;  // turnout_settlement_batches_total
    };
    Settled& settled(const std::string& channel, const std::string& currency);

    prometheus::Gauge& open_batches;
    prometheus::Gauge& overdue_batches;

private:
    std::map<std::pair<std::string, std::string>, Settled> settled_;
};

}  // namespace turnout
