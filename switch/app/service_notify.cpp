#include "app/service_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>

#include "metrics/health.hpp"

namespace turnout {

ServiceNotifier::ServiceNotifier() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    enabled_ = sock && *sock;
    uint64_t usec = 0;
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_every_ms_ = std::max<int64_t>(1, static_cast<int64_t>(usec / 1000 / 2));  // twice per period
    if (enabled_)
        spdlog::info("systemd notify socket set: READY=1 after restore{}",
                     watchdog_every_ms_ ? ", WATCHDOG=1 every " + std::to_string(watchdog_every_ms_) + " ms" : "");
}

void ServiceNotifier::tick(int64_t now_ms) {
    if (!enabled_) return;
    const auto ready = board_readiness(now_ms);
    const std::string status = ready.ok ? "ready" : ready.reason;
    if (status != last_status_) {
        const std::string msg = (ready.ok && !ready_sent_ ? "READY=1\n" : "") + std::string("STATUS=") + status;
        sd_notify(0, msg.c_str());
        if (ready.ok) ready_sent_ = true;
        last_status_ = status;
    }
    // The watchdog is fed only while every stage loop turns: a stuck stage gets the process
    // restarted by systemd (WatchdogSec in the unit).
    if (watchdog_every_ms_ && now_ms >= next_watchdog_ms_ && board_liveness(now_ms).ok) {
        sd_notify(0, "WATCHDOG=1");
        next_watchdog_ms_ = now_ms + watchdog_every_ms_;
    }
}

void ServiceNotifier::stopping() {
    if (enabled_) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

}  // namespace turnout
