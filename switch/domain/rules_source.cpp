#include "domain/rules_source.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "metrics/metrics.hpp"

namespace turnout {
namespace {

std::atomic<uint64_t> g_reload_requests{0};

using FileStamp = RulesSource::FileStamp;

std::optional<FileStamp> stamp_of(const std::string& path) {
    std::error_code ec;
    FileStamp s;
    s.mtime = std::filesystem::last_write_time(path, ec);
    if (ec) return std::nullopt;
    s.size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    return s;
}

}  // namespace

void request_rules_reload() { g_reload_requests.fetch_add(1, std::memory_order_relaxed); }

RulesSource::RulesSource(const Config& cfg) : cfg_(cfg) {
    auto first = std::make_shared<RuleSet>();
    first->version = 1;
    first->routes = cfg.routes;
    first->risk = cfg.risk;
    current_.store(std::move(first));
}

RuleSet RulesSource::validate(const std::string& text, const std::string& source) const {
    const Config next = parse_config(text, source);
    // The channel set and their connectors are built at start-up: a rule may name only a
    // channel this process runs with.
    for (const auto& rule : next.routes)
        for (const auto& ch : rule.channels)
            if (!cfg_.channel(ch))
                throw ConfigError(source + ": route `" + rule.name + "` names channel `" + ch +
                                  "`, which the running switch does not have (adding a channel needs a restart)");
    if (next.risk.velocity_retention_hours != cfg_.risk.velocity_retention_hours)
        spdlog::warn("rules reload: risk.velocity_retention_hours changes only at the next start (topic retention)");
    RuleSet out;
    out.routes = next.routes;
    out.risk = next.risk;
    return out;
}

namespace {
prometheus::Counter& reloads(const char* outcome) {
    static auto& f = declare_counter("turnout_rules_reloads_total",
                                     "Hot reloads of the routing and risk rules, by outcome (applied, refused)");
    return f.Add({{"outcome", outcome}});
}
}  // namespace

bool RulesSource::reload(std::string* error) {
    static auto& applied = reloads("applied");
    static auto& refused = reloads("refused");
    try {
        std::ifstream in(cfg_.path);
        if (!in) throw ConfigError(cfg_.path + ": cannot open config file");
        std::stringstream ss;
        ss << in.rdbuf();
        auto next = std::make_shared<RuleSet>(validate(ss.str(), cfg_.path));
        next->version = current_.load()->version + 1;
        spdlog::info("rules reloaded from {}: version {}, {} routes, {} risk rules", cfg_.path, next->version,
                     next->routes.size(), next->risk.rules.size());
        current_.store(std::move(next));
        applied.Increment();
        return true;
    } catch (const std::exception& e) {
        spdlog::warn("rules reload refused, the rules in force stay: {}", e.what());
        refused.Increment();
        if (error) *error = e.what();
        return false;
    }
}

void RulesSource::watch(int poll_ms) {
    if (thread_.joinable()) return;
    stop_ = false;
    // Taken here, not in the thread: a change made right after watch() returns is seen.
    const uint64_t requests = g_reload_requests.load();
    auto stamp = stamp_of(cfg_.path);
    thread_ = std::thread([this, poll_ms, requests, stamp] { run(poll_ms, requests, stamp); });
}

void RulesSource::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void RulesSource::run(int poll_ms, uint64_t seen_requests, std::optional<FileStamp> last) {
    while (!stop_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
        const uint64_t requests = g_reload_requests.load();
        auto now = stamp_of(cfg_.path);
        const bool changed = now && (!last || !(*now == *last));
        if (requests == seen_requests && !changed) continue;
        seen_requests = requests;
        last = now;
        reload();
    }
}

}  // namespace turnout
