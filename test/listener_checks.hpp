#pragma once
// The checks every listener test runs (test/unit/net/listener_test.cpp,
// test/integration/listener_test.cpp): slowloris, a flood over the cap, an oversize body,
// against a real server over real sockets (listener_probe.hpp), with the
// turnout_listener_refused_total counts they must leave.
#include <doctest/doctest.h>

#include <future>
#include <string>

#include "config/config.hpp"
#include "listener_probe.hpp"
#include "metric_checks.hpp"

namespace turnout::probe {

inline double refused(const std::string& listener, const std::string& reason) {
    return metric_value("turnout_listener_refused_total", {{"listener", listener}, {"reason", reason}});
}

inline std::filesystem::path scratch(const std::string& name) {
    auto d = std::filesystem::temp_directory_path() / ("turnout-listener-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}

// One listener under test: its counter label, its port, a request it answers (ok_status).
struct Listener {
    std::string name;
    int port;
    std::string ok_target;
    ListenerLimits limits;
    int ok_status = 200;
};

// Slowloris: cap-1 connections trickle header bytes; each is closed within the header
// timeout (plus scheduling slack) while a normal request on the free slot is answered.
inline void check_slowloris(const Listener& l) {
    const double before = refused(l.name, "header_timeout");
    const int n = l.limits.max_connections - 1;
    auto slow = std::async(std::launch::async, [&] {
        return probe::slowloris(l.port, n, "GET " + l.ok_target + " HTTP/1.1\r\n", 50, 5 * l.limits.header_timeout_ms);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(l.limits.header_timeout_ms / 3));
    const auto normal = probe::request(l.port, "GET", l.ok_target);
    const auto s = slow.get();
    MESSAGE(l.name << " slowloris: " << s.connected << " connections trickling a header byte every 50 ms, closed by the "
                   << "server after at most " << s.longest() << " ms (header_timeout_ms " << l.limits.header_timeout_ms
                   << "); a normal GET meanwhile: " << normal.status);
    CHECK(s.connected == n);
    CHECK(s.longest() <= l.limits.header_timeout_ms + 400);
    CHECK(normal.status == l.ok_status);
    CHECK(refused(l.name, "header_timeout") - before == n);
}

// Flood: a keep-alive connection is open; a flood of cap+6 idle connections follows. The
// ones over the cap are closed at once; the open connection is still answered; once the
// header timeout has closed the idle ones, a new connection is answered again.
inline void check_flood(const Listener& l) {
    const double before = refused(l.name, "over_cap");
    probe::KeepAlive kept(l.port);
    REQUIRE(kept.ask(l.ok_target).status == l.ok_status);
    const int extra = 6, size = l.limits.max_connections + extra;
    probe::Flood flood(l.port, size);
    const int closed = flood.closed_within(200);
    const auto on_kept = kept.ask(l.ok_target);
    std::this_thread::sleep_for(std::chrono::milliseconds(l.limits.header_timeout_ms + 300));
    const int closed_later = flood.closed_within(0);
    const auto fresh = probe::request(l.port, "GET", l.ok_target);
    MESSAGE(l.name << " flood: " << flood.fds.size() << " idle connections over a cap of " << l.limits.max_connections
                   << " (one held by a keep-alive client): " << closed << " closed within 200 ms; the keep-alive client "
                   << "meanwhile: " << on_kept.status << "; after the header timeout " << closed_later
                   << " closed, a new connection: " << fresh.status);
    CHECK(static_cast<int>(flood.fds.size()) == size);
    CHECK(closed == extra + 1);  // the kept connection holds one slot
    CHECK(refused(l.name, "over_cap") - before == extra + 1);
    CHECK(on_kept.status == l.ok_status);
    CHECK(closed_later == size);
    CHECK(fresh.status == l.ok_status);
}

// A declared 10 MB body with 64 KiB of it sent: 413 at once, the connection closed.
inline void check_oversize(const Listener& l, const std::string& method, const std::string& target, const std::string& headers = "") {
    const auto o = probe::oversize(l.port, method, target, headers, 10u << 20, 64u << 10);
    MESSAGE(l.name << " oversize body: declared 10 MiB, 64 KiB sent: " << o.reply.status << " after "
                   << o.answered_after_ms << " ms, connection closed: " << o.closed);
    CHECK(o.reply.status == 413);
    CHECK(o.answered_after_ms < 2000);
    CHECK(o.closed);
}

}  // namespace turnout::probe
