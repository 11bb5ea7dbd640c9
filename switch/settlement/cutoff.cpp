#include "settlement/cutoff.hpp"

namespace turnout {
namespace {
constexpr int64_t kDayMs = 86'400'000;
int64_t floor_mod(int64_t a, int64_t m) { return ((a % m) + m) % m; }
}  // namespace

CutoffSpec cutoff_spec(const CutoffRule& rule) {
    if (rule.interval_seconds > 0) return {rule.interval_seconds * 1000, 0};
    // Local HH:MM at offset +O is HH:MM − O in UTC.
    return {kDayMs, floor_mod(int64_t{rule.daily_at_minute - rule.utc_offset_minutes} * 60'000, kDayMs)};
}

CutoffWindow window_at(const CutoffSpec& spec, int64_t event_ms) {
    const int64_t start = event_ms - floor_mod(event_ms - spec.phase_ms, spec.period_ms);
    return {start, start + spec.period_ms};
}

CutoffPlan CutoffPlan::from(const SettlementConfig& s) {
    std::map<std::string, CutoffSpec> per;
    for (const auto& r : s.cutoffs) per[r.channel] = cutoff_spec(r);
    return CutoffPlan({int64_t{s.window_seconds} * 1000, 0}, std::move(per));
}

}  // namespace turnout
