#pragma once
// Cut-off windows: which settlement window an event time belongs to, per channel. Pure
// arithmetic on epoch milliseconds, so the same event time gives the same window on every
// instance and after every restart.
#include <cstdint>
#include <map>
#include <string>

#include "config/config.hpp"

namespace turnout {

struct CutoffWindow {
    int64_t start_ms = 0;  // inclusive
    int64_t end_ms = 0;    // exclusive: the cut-off
    auto operator<=>(const CutoffWindow&) const = default;
};

// Windows of `period_ms` whose starts are `phase_ms` plus a multiple of the period (UTC).
// An interval of N seconds is {N s, 0}; daily at HH:MM with offset ±O is
// {24 h, HH:MM − O (mod 24 h)} — a fixed offset has no daylight-saving jumps, so every
// daily window is exactly 24 hours long.
struct CutoffSpec {
    int64_t period_ms = 10'000;
    int64_t phase_ms = 0;
    bool operator==(const CutoffSpec&) const = default;
};

CutoffSpec cutoff_spec(const CutoffRule& rule);
CutoffWindow window_at(const CutoffSpec& spec, int64_t event_ms);

// The cut-off of every channel: its own rule, or intervals of settlement.window_seconds.
class CutoffPlan {
public:
    explicit CutoffPlan(CutoffSpec fallback = {}, std::map<std::string, CutoffSpec> per_channel = {})
        : fallback_(fallback), per_channel_(std::move(per_channel)) {}
    static CutoffPlan from(const SettlementConfig& s);

    const CutoffSpec& spec(const std::string& channel) const {
        auto it = per_channel_.find(channel);
        return it == per_channel_.end() ? fallback_ : it->second;
    }
    CutoffWindow window(const std::string& channel, int64_t event_ms) const { return window_at(spec(channel), event_ms); }

private:
    CutoffSpec fallback_;
    std::map<std::string, CutoffSpec> per_channel_;
};

}  // namespace turnout
