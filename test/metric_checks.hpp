#pragma once
// Reading a series from the process registry by family name and exact labels, as a scrape
// would see it: the tests check counters by name, never through a component's own handles.
#include <map>
#include <string>

#include "metrics/metrics.hpp"

namespace turnout {

// The value of the counter or gauge series with exactly these labels (0 when absent).
inline double metric_value(const std::string& name, const std::map<std::string, std::string>& labels) {
    for (const auto& fam : Metrics::get().registry->Collect()) {
        if (fam.name != name) continue;
        for (const auto& m : fam.metric) {
            std::map<std::string, std::string> have;
            for (const auto& l : m.label) have[l.name] = l.value;
            if (have == labels) return fam.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
        }
    }
    return 0;
}

}  // namespace turnout
