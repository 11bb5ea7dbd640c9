#include "metrics/health.hpp"

#include "metrics/log.hpp"

namespace turnout {

HealthCell::Snapshot HealthCell::snapshot() const {
    Snapshot s;
    s.name = name_;
    s.last_turn_ms = last_turn_ms_.load(std::memory_order_relaxed);
    s.assigned = assigned_.load(std::memory_order_relaxed);
    s.restoring = restoring_.load(std::memory_order_relaxed);
    s.failed = failed_.load(std::memory_order_relaxed);
    s.reports_broker = reports_broker_.load(std::memory_order_relaxed);
    s.broker = static_cast<BrokerState>(broker_.load(std::memory_order_relaxed));
    s.broker_seen_ms = broker_seen_ms_.load(std::memory_order_relaxed);
    return s;
}

std::string HealthVerdict::json() const {
    std::string out = "{\"";
    out += key;
    out += "\":";
    out += ok ? "true" : "false";
    if (!ok) out += ",\"reason\":\"" + json_escape(reason) + "\"";
    out += "}\n";
    return out;
}

namespace {
HealthVerdict verdict(const char* key, bool ok, std::string reason = {}) {
    HealthVerdict v;
    v.key = key;
    v.ok = ok;
    v.reason = std::move(reason);
    return v;
}
}  // namespace

HealthVerdict liveness(const std::vector<HealthCell::Snapshot>& cells, int64_t now_ms, const HealthLimits& lim) {
    for (const auto& c : cells) {
        if (c.last_turn_ms == 0) continue;  // still starting: not stuck yet (readiness says so)
        const int64_t idle = now_ms - c.last_turn_ms;
        if (idle > lim.stall_ms)
            return verdict("live", false,
                           c.name + ": stage loop has not turned for " + std::to_string(idle / 1000) + " s");
    }
    return verdict("live", true);
}

HealthVerdict readiness(const std::vector<HealthCell::Snapshot>& cells, int64_t now_ms, const HealthLimits& lim) {
    if (auto live = liveness(cells, now_ms, lim); !live.ok) return verdict("ready", false, live.reason);
    for (const auto& c : cells) {
        if (c.failed) return verdict("ready", false, c.name + ": producer fenced or fatal error; stopping");
        if (c.restoring) return verdict("ready", false, c.name + ": restoring state stores");
        if (!c.assigned) return verdict("ready", false, c.name + ": waiting for its partition assignment");
        if (!c.reports_broker) continue;
        if (c.broker == BrokerState::down && now_ms - c.broker_seen_ms <= lim.broker_stale_ms)
            return verdict("ready", false, c.name + ": no Kafka broker reachable");
        if (c.broker != BrokerState::up || now_ms - c.broker_seen_ms > lim.broker_stale_ms)
            return verdict("ready", false, c.name + ": Kafka broker state unknown (no statistics for " +
                                               std::to_string(lim.broker_stale_ms / 1000) + " s)");
    }
    return verdict("ready", true);
}

HealthBoard& HealthBoard::get() {
    static HealthBoard b;
    return b;
}

std::shared_ptr<HealthCell> HealthBoard::add(const std::string& name) {
    auto c = std::make_shared<HealthCell>(name);
    std::lock_guard lock(mu_);
    cells_.push_back(c);
    return c;
}

std::vector<HealthCell::Snapshot> HealthBoard::snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<HealthCell::Snapshot> out;
    out.reserve(cells_.size());
    for (const auto& c : cells_) out.push_back(c->snapshot());
    return out;
}

HealthVerdict board_liveness(int64_t now_ms, const HealthLimits& lim) {
    return liveness(HealthBoard::get().snapshot(), now_ms, lim);
}

HealthVerdict process_readiness(const std::vector<HealthCell::Snapshot>& cells, size_t expected, int64_t now_ms,
                                const HealthLimits& lim) {
    if (expected == 0) return verdict("ready", false, "starting: the roles are not running yet");
    if (cells.size() < expected)
        return verdict("ready", false, "starting: " + std::to_string(cells.size()) + " of " +
                                           std::to_string(expected) + " stages up");
    return readiness(cells, now_ms, lim);
}

HealthVerdict board_readiness(int64_t now_ms, const HealthLimits& lim) {
    auto& b = HealthBoard::get();
    return process_readiness(b.snapshot(), b.expected(), now_ms, lim);
}

}  // namespace turnout
