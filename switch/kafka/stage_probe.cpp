#include "stage_probe.hpp"

namespace turnout {
namespace {
CounterFamily& records_in() {
    static auto& f = declare_counter("turnout_stage_records_in_total", "Records consumed by a stage");
    return f;
}
CounterFamily& records_out() {
    static auto& f = declare_counter("turnout_stage_records_out_total", "Records produced by a stage");
    return f;
}
CounterFamily& dlq_records() {
    static auto& f =
        declare_counter("turnout_dlq_records_total", "Records sent to the dead-letter queue, by stage and reason");
    return f;
}
CounterFamily& results() {
    static auto& f = declare_counter("turnout_results_total", "Final payment results, by status and channel");
    return f;
}
}  // namespace

StageProbe::StageProbe(const std::string& stage)
    : in_(records_in().Add({{"stage", stage}})),
      out_(records_out().Add({{"stage", stage}})),
      dlq_(dlq_records(), {{"stage", stage}}, {"reason"}),
      results_(results(), {}, {"status", "channel"}) {}

prometheus::Counter& StageProbe::dlq_series(const std::string& stage, const std::string& reason) {
    return dlq_records().Add({{"stage", stage}, {"reason", reason}});
}

}  // namespace turnout
