#pragma once
// The routing and risk rules in force, swapped whole on a hot reload (SIGHUP or a change
// of the config file's modification time). A reload re-reads and validates the whole
// config file; only `router.routes` and `risk` take effect (other sections need a
// restart). An invalid file is refused: logged at warn with file:line:column, counted in
// turnout_rules_reloads_total{outcome="refused"}, and the rules in force stay.
// Stages pick up current() at the start of a batch, so a batch is decided by one rule set.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"

namespace turnout {

struct RuleSet {
    uint64_t version = 0;
    std::vector<RouteRule> routes;
    RiskPolicy risk;
};

class RulesSource {
public:
    // The rules of `cfg`; reloads read `cfg.path` and must name only channels of `cfg`.
    explicit RulesSource(const Config& cfg);
    ~RulesSource() { stop(); }
    RulesSource(const RulesSource&) = delete;
    RulesSource& operator=(const RulesSource&) = delete;

    std::shared_ptr<const RuleSet> current() const { return current_.load(); }

    // Reloads now; false (old rules kept, `error` set) when the file is invalid.
    bool reload(std::string* error = nullptr);
    // Validates a config text as a reload would, without applying it.
    RuleSet validate(const std::string& yaml_text, const std::string& source) const;

    // A background thread: reload on request_rules_reload() or when the file changes.
    void watch(int poll_ms = 500);
    void stop();

    struct FileStamp {
        std::filesystem::file_time_type mtime{};
        uintmax_t size = 0;
        bool operator==(const FileStamp&) const = default;
    };

private:
    void run(int poll_ms, uint64_t seen_requests, std::optional<FileStamp> last);
    const Config& cfg_;
    std::atomic<std::shared_ptr<const RuleSet>> current_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Async-signal-safe: asks every watching RulesSource to reload (the SIGHUP handler).
void request_rules_reload();

}  // namespace turnout
