#pragma once
// Tells systemd how the process is doing when it runs under a `Type=notify` unit
// (deploy/systemd/turnout@.service): READY=1 once every stage is ready (stores restored,
// partitions assigned), WATCHDOG=1 while every stage loop turns, STATUS= with the readiness
// reason, STOPPING=1 on the way out. Without NOTIFY_SOCKET it does nothing.
#include <cstdint>
#include <string>

namespace turnout {

class ServiceNotifier {
public:
    ServiceNotifier();
    // Call often (every 100 ms or so): sends what changed and the watchdog pings that are due.
    void tick(int64_t now_ms);
    void stopping();
    bool ready_sent() const { return ready_sent_; }

private:
    bool enabled_ = false;
    bool ready_sent_ = false;
    int64_t watchdog_every_ms_ = 0;  // 0: no watchdog
    int64_t next_watchdog_ms_ = 0;
    std::string last_status_;
};

}  // namespace turnout
