#pragma once
// Liveness and readiness of a Turnout process, served on its metrics port as /livez and
// /readyz (and told to systemd with sd_notify when it runs under a notify unit).
//
// Every stage of the process owns a HealthCell and writes it from its own thread (the stage
// loop, the rebalance callback, librdkafka's statistics callback). The verdicts are pure
// functions of snapshots of those cells and the clock, so the rules are tested by tables.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace turnout {

enum class BrokerState : int { unknown = 0, up = 1, down = 2 };

// One stage's health, written by the stage and read by the health endpoints.
class HealthCell {
public:
    explicit HealthCell(std::string name) : name_(std::move(name)) {}
    const std::string& name() const { return name_; }

    // The stage loop turned (or a long restore made progress): liveness.
    void turned(int64_t now_ms) { last_turn_ms_.store(now_ms, std::memory_order_relaxed); }
    // A rebalance handed the stage its partitions (possibly none) and the stores are restored.
    void assigned(bool v) { assigned_.store(v, std::memory_order_relaxed); }
    void restoring(bool v) { restoring_.store(v, std::memory_order_relaxed); }
    // The producer was fenced or hit a fatal error: the stage is about to stop.
    void failed(bool v) { failed_.store(v, std::memory_order_relaxed); }
    void broker(BrokerState s, int64_t now_ms) {
        broker_.store(static_cast<int>(s), std::memory_order_relaxed);
        broker_seen_ms_.store(now_ms, std::memory_order_relaxed);
    }
    // The stage does not report broker state (no statistics): readiness does not wait for it.
    void no_broker_reports() { reports_broker_.store(false, std::memory_order_relaxed); }

    struct Snapshot {
        std::string name;
        int64_t last_turn_ms = 0;  // 0: never
        bool assigned = false;
        bool restoring = false;
        bool failed = false;
        bool reports_broker = true;
        BrokerState broker = BrokerState::unknown;
        int64_t broker_seen_ms = 0;
    };
    Snapshot snapshot() const;

private:
    std::string name_;
    std::atomic<int64_t> last_turn_ms_{0};
    std::atomic<bool> assigned_{false}, restoring_{false}, failed_{false}, reports_broker_{true};
    std::atomic<int> broker_{0};
    std::atomic<int64_t> broker_seen_ms_{0};
};

struct HealthLimits {
    // A stage loop that has not turned for this long is stuck (a restore ticks as it goes).
    // (60 s: a changelog read gives up after 60 s without progress, and the role exits.)
    int64_t stall_ms = 60000;
    // Broker state older than this is unknown (statistics come every 5 s).
    int64_t broker_stale_ms = 20000;
};

struct HealthVerdict {
    bool ok = false;
    std::string reason;  // empty when ok; else "<stage>: <why>" for the first stage that fails
    std::string json() const;  // {"live"|"ready": bool, "reason": "..."}
    const char* key = "ready";
};

// Alive: every stage's loop turned within stall_ms (a process with no stage is alive).
HealthVerdict liveness(const std::vector<HealthCell::Snapshot>& cells, int64_t now_ms, const HealthLimits& lim = {});
// Ready: alive, and every stage has its assignment with stores restored, is not failed,
// and (when it reports broker state) last saw a broker up, recently.
HealthVerdict readiness(const std::vector<HealthCell::Snapshot>& cells, int64_t now_ms, const HealthLimits& lim = {});

// The process's cells. Stages add theirs when they start and keep them for the process's life.
class HealthBoard {
public:
    static HealthBoard& get();
    std::shared_ptr<HealthCell> add(const std::string& name);
    std::vector<HealthCell::Snapshot> snapshot() const;
    // The process has stages (or a gateway) still starting: before the first add() the
    // process is not ready.
    void expect(size_t stages) { expected_.store(stages, std::memory_order_relaxed); }
    size_t expected() const { return expected_.load(std::memory_order_relaxed); }

private:
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<HealthCell>> cells_;
    std::atomic<size_t> expected_{0};
};

// A process's readiness: not ready before its roles are known (`expected` 0: the metrics
// endpoint is up before the roles start) or while fewer cells than expected exist.
HealthVerdict process_readiness(const std::vector<HealthCell::Snapshot>& cells, size_t expected, int64_t now_ms,
                                const HealthLimits& lim = {});
// process_readiness of this process's board.
HealthVerdict board_readiness(int64_t now_ms, const HealthLimits& lim = {});
HealthVerdict board_liveness(int64_t now_ms, const HealthLimits& lim = {});

}  // namespace turnout
