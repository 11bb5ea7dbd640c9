#include "metrics/metrics.hpp"

#include <string_view>

#include "metrics/build_info.hpp"
#include "metrics/health.hpp"
#include "metrics/log.hpp"
#include "metrics/metrics_server.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {
prometheus::Histogram::BucketBoundaries latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
}  // namespace

Metrics& Metrics::get() {
    static Metrics m;
    return m;
}

Metrics::Metrics() : registry(std::make_shared<prometheus::Registry>()) {}

Metrics::~Metrics() = default;

void Metrics::serve(const MetricsConfig& cfg) {
    if (cfg.port <= 0 || server_) return;
    server_ = std::make_unique<MetricsServer>(cfg, registry);
}

CounterFamily& declare_counter(const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*Metrics::get().registry);
}

GaugeFamily& declare_gauge(const char* name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(*Metrics::get().registry);
}

HistogramFamily& declare_histogram(const char* name, const char* help) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(*Metrics::get().registry);
}

prometheus::Histogram& latency_histogram(HistogramFamily& f, const std::map<std::string, std::string>& labels) {
    return f.Add(labels, latency_buckets());
}

}  // namespace turnout

namespace turnout {

void set_process_identity(const std::string& role, const std::string& instance) {
    const std::string version(build_version());
    set_log_identity(version, role, instance);
    static auto& build_info =
        declare_gauge("turnout_build_info", "Always 1: the build's version and the process's role and instance");
    build_info.Add({{"version", version}, {"role", role}, {"instance", instance}}).Set(1);
}

}  // namespace turnout
