#pragma once
// A stage's own series (docs/metrics.md, "Stages"): records in and out, DLQ records by
// reason, final results by status and channel. The families are declared here; every stage
// (router, risk, connector, settlement, state) holds one StageProbe named after itself.
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"

namespace turnout {

class StageProbe {
public:
    explicit StageProbe(const std::string& stage);
    void in(size_t n = 1) { in_.Increment(static_cast<double>(n)); }
    void out(size_t n = 1) { out_.Increment(static_cast<double>(n)); }
    void dlq(std::string_view reason) { dlq_({reason}).Increment(); }
    void result(std::string_view status, std::string_view channel) {
        results_({status, channel.empty() ? "none" : channel}).Increment();
    }

    // turnout_dlq_records_total for one stage and reason, for the runner's own DLQ records.
    static prometheus::Counter& dlq_series(const std::string& stage, const std::string& reason);

private:
    prometheus::Counter& in_;
    prometheus::Counter& out_;
    SeriesCache<prometheus::Counter> dlq_;
    SeriesCache<prometheus::Counter> results_;
};

}  // namespace turnout
