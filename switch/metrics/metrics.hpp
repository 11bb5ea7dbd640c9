#pragma once
// The process's Prometheus registry (docs/design.md, "Observability") and the means to
// declare families in it. Each family is declared once, next to the component that owns it
// (a stage's probe, a connector, a listener), with declare_counter/gauge/histogram in a
// function-local static; docs/metrics.md lists them all (test/ops/metrics_doc_test.py).
// Series are resolved when the component is made, or once per new label value through a
// SeriesCache: the record path only increments.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace turnout {

struct MetricsConfig;
class MetricsServer;

class Metrics {
public:
    static Metrics& get();

    // Serves /metrics, /livez and /readyz (metrics/metrics_server.hpp) on cfg.address:cfg.port
    // (port 0 = do not serve). Throws std::runtime_error naming the port and what to do when
    // it is taken.
    void serve(const MetricsConfig& cfg);
    ~Metrics();

    std::shared_ptr<prometheus::Registry> registry;

private:
    Metrics();
    std::unique_ptr<MetricsServer> server_;
};

using CounterFamily = prometheus::Family<prometheus::Counter>;
using GaugeFamily = prometheus::Family<prometheus::Gauge>;
using HistogramFamily = prometheus::Family<prometheus::Histogram>;

// Registers a family in the process registry. Call once per family, from a function-local
// static in the owning component's .cpp.
CounterFamily& declare_counter(const char* name, const char* help);
GaugeFamily& declare_gauge(const char* name, const char* help);
HistogramFamily& declare_histogram(const char* name, const char* help);

// Histogram with the latency buckets every Turnout duration uses (seconds).
prometheus::Histogram& latency_histogram(HistogramFamily& f, const std::map<std::string, std::string>& labels);

// The series of one family whose last labels take values only known on the record path (a
// rule name, a reason, a channel): each is resolved on first use and found again by its
// values, without building a label map. Thread-safe.
template <class Metric>
class SeriesCache {
public:
    // `fixed`: labels every series carries; `names`: the labels given to operator().
    SeriesCache(prometheus::Family<Metric>& family, std::map<std::string, std::string> fixed,
                std::vector<std::string> names)
        : family_(family), fixed_(std::move(fixed)), names_(std::move(names)) {}

    // The series with these values for `names` (in order).
    Metric& operator()(std::initializer_list<std::string_view> values) {
        std::string key;
        for (auto v : values) key.append(v).push_back('\0');
        std::lock_guard lock(mu_);
        auto& m = series_[key];
        if (!m) {
            auto labels = fixed_;
            size_t i = 0;
            for (auto v : values) labels[names_.at(i++)] = std::string(v);
            m = &family_.Add(labels);
        }
        return *m;
    }

private:
    prometheus::Family<Metric>& family_;
    const std::map<std::string, std::string> fixed_;
    const std::vector<std::string> names_;
    std::mutex mu_;
    std::unordered_map<std::string, Metric*> series_;
};

}  // namespace turnout
