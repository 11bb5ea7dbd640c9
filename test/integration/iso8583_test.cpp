// The iso8583 connector on the real broker against a `turnout-sim iso8583` process, one
// test per fault mode of the host: every payment ends with exactly one result, and the
// host saw the reversal traffic the mode calls for.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "app/roles.hpp"
#include "connector.hpp"
#include "codec/messages.hpp"
#include "iso8583/mapping.hpp"
#include "kafka/client.hpp"
#include "../metric_checks.hpp"
#include "model/time.hpp"
#include "security/card_vault.hpp"
#include "security/pin_block.hpp"
#include "state/status_query.hpp"
#include "harness.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

bool accepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

std::string luhn_pan(int i) {
    std::string p = "411111" + std::to_string(100000000 + i);  // 15 digits + check digit
    int sum = 0;
    for (int k = 0; k < 15; ++k) {
        int d = p[14 - k] - '0';
        if (k % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return p + static_cast<char>('0' + (10 - sum % 10) % 10);
}

struct LedgerLine {
    std::string kind, rrn, mti, code;
    std::vector<std::string> rest;  // X: approval amount currency stan+time terminal acquirer;
                                    // R: original stan+time, stan, terminal, field 90
};

// A reversal timeout for tests whose host answers every reversal at once and that count
// the 0400s and 0401s: a loaded machine must not turn a slow answer into a repeat (nothing
// waits for it when the answer comes).
constexpr int kPromptReversal = 5000;

// One run: an isolated switch whose acq-eu is an iso8583 channel played by a turnout-sim
// process with the given faults.
// What a test adds to an IsoRun's channel: a MAC key, more settings lines (4-space indented),
// and arguments for the host simulator.
struct IsoExtra {
    std::string mac_key, settings;
    std::vector<std::string> sim_args;
    bool hsm = false;  // keys in a SoftHSM2 token of the run (use_softhsm_token)
    std::string pin_key;  // the channel's pin_key (with hsm: imported into the token with the acquiring key)
    // The PIN block (hex) payment i carries for card `pan`; empty = none.
    std::function<std::string(size_t i, const std::string& pan)> pin_block;
};

struct IsoRun {
    std::string run;
    fs::path dir;
    Config cfg;
    int port = 0;
    pid_t sim = -1;

    // Timeouts are generous where the test needs none, so a slow shared machine cannot turn
    // an answer into a reversal; the counts asserted hold either way where they are short.
    IsoExtra extra;

    IsoRun(const std::string& name, const std::vector<std::string>& faults, int timeout_ms = 400,
           int reversal_timeout_ms = 1500, bool with_kafka = true, IsoExtra x = {})
        : extra(std::move(x)) {
        const auto& mac_key = extra.mac_key;
        run = "iso" + name + std::to_string(now_ms());
        dir = fs::path(kSource) / "var" / "test" / run;
        fs::create_directories(dir);
        port = free_port();
        std::string yaml = isolated_yaml(run, dir);
        replace_channel(yaml, "acq-eu",
                        "kind: iso8583\n    endpoint: 127.0.0.1:" + std::to_string(port) + "\n    layout: " + kSource +
                            "/config/iso8583/iso87-ascii.yaml\n    keys_file: " + kSource +
                            "/config/dev-keys.yaml\n    connections: 2\n    timeout_ms: " + std::to_string(timeout_ms) +
                            "\n    reversal_timeout_ms: " + std::to_string(reversal_timeout_ms) +
                            "\n    reversal_retries: 2\n    echo_interval_ms: 300\n"
                            "    reconnect_min_ms: 50\n    terminal_prefix: IT\n    journal_dir: " +
                            (dir / "journal").string() + "\n" +
                            (mac_key.empty() ? std::string() : "    mac_key: " + mac_key + "\n") +
                            (extra.pin_key.empty() ? std::string() : "    pin_key: " + extra.pin_key + "\n") +
                            extra.settings);
        if (extra.hsm) use_softhsm_token(yaml, dir, "turnout-iso");
        std::ofstream(dir / "turnout.yaml") << yaml;
        if (extra.hsm) init_softhsm_keys(dir / "turnout.yaml", dir);
        if (extra.hsm && !mac_key.empty()) import_key_into_token(dir / "turnout.yaml", dir, "mac", mac_key);
        if (extra.hsm && !extra.pin_key.empty()) {
            import_key_into_token(dir / "turnout.yaml", dir, "pin", "acquiring-zpk", true);
            import_key_into_token(dir / "turnout.yaml", dir, "pin", extra.pin_key);
        }
        cfg = isolated_config(run, dir, yaml);
        if (with_kafka) kafka::ensure_topics(cfg);
        start_sim(faults);
    }
    ~IsoRun() { stop_sim(); }

    void start_sim(const std::vector<std::string>& faults) {
        std::vector<std::string> args{TURNOUT_SIM_BINARY, "iso8583", "--config", (dir / "turnout.yaml").string(),
                                      "--channel", "acq-eu", "--listen", "127.0.0.1:" + std::to_string(port),
                                      "--ledger", (dir / "host.ledger").string()};
        for (const auto& f : faults) args.insert(args.end(), {"--fault", f});
        args.insert(args.end(), extra.sim_args.begin(), extra.sim_args.end());
        sim = ::fork();
        if (sim == 0) {
            const int fd = ::open((dir / "sim.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        for (const int64_t until = now_ms() + 60000; now_ms() < until && !accepts(port);)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        REQUIRE_MESSAGE(accepts(port), "turnout-sim listens; see " << (dir / "sim.log").string());
    }

    void stop_sim() {
        if (sim <= 0) return;
        ::kill(sim, SIGTERM);
        int st = 0;
        ::waitpid(sim, &st, 0);
        sim = -1;
    }

    // Publishes sales (EUR cards, so acq-eu first, psp-global second), runs the switch until
    // each has a result, and returns the results by payment_id (every one, to count doubles).
    // `until`, when given, keeps the switch running after the last result until it holds.
    using Results = std::multimap<std::string, PaymentResult>;
    Results pay(const std::vector<int64_t>& amounts, const std::function<bool(const Results&)>& until = {}) {
        // The keys each role uses, as `turnout` loads them (from the token with Extra::hsm).
        const auto vault = load_role_keys(cfg, all_roles(cfg), "0");
        std::atomic<bool> stop{false};
        int rc = -1;
        std::thread roles([&] { rc = run_roles(cfg, vault.get(), all_roles(cfg), "0", stop); });
        kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
        for (size_t i = 0; i < amounts.size(); ++i) {
            const std::string id = run + "-" + std::to_string(i);
            const std::string pan = luhn_pan(static_cast<int>(i));
            const std::string pin = extra.pin_block ? extra.pin_block(i, pan) : "";
            std::ostringstream v;
            v << R"({"payment_id":")" << id << R"(","type":"sale","merchant":{"id":"m-1"},"amount":{"value":)"
              << amounts[i] << R"(,"currency":"EUR"},"instrument":{"kind":"card","pan":")" << pan << R"(","expiry":"3012")"
              << (pin.empty() ? "" : R"(,"pin_block":")" + pin + "\"")
              << R"(},"created_at":"2026-11-26T09:00:00.000Z"})";
            REQUIRE(producer.produce({cfg.kafka.topics.requests, id, v.str(), {}}));
        }
        producer.flush(10000);
        std::multimap<std::string, PaymentResult> results;
        const int64_t deadline = now_ms() + 120000;
        while (now_ms() < deadline) {
            results.clear();
            std::set<std::string> ids;
            for (const auto& r : read_all(cfg, {cfg.kafka.topics.results}))
                if (auto res = decode_result(r.value)) {
                    ids.insert(res->payment_id);
                    results.emplace(res->payment_id, *res);
                }
            if (ids.size() >= amounts.size()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        for (const int64_t linger = now_ms() + 20000; until && !until(results) && now_ms() < linger;)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        stop = true;
        roles.join();
        CHECK_MESSAGE(rc == 0, "the switch drained and stopped cleanly");
        return results;
    }

    std::string sim_log() const {
        std::ifstream log(dir / "sim.log");
        std::stringstream ss;
        ss << log.rdbuf();
        return ss.str();
    }

    std::vector<LedgerLine> ledger() const {
        std::vector<LedgerLine> out;
        std::ifstream f(dir / "host.ledger");
        for (std::string line; std::getline(f, line);) {
            std::istringstream ss(line);
            LedgerLine l;
            ss >> l.kind >> l.rrn >> l.mti >> l.code;
            for (std::string t; ss >> t;) l.rest.push_back(t);
            out.push_back(l);
        }
        return out;
    }
};

std::map<std::string, int> by_status(const std::multimap<std::string, PaymentResult>& results) {
    std::map<std::string, int> n;
    for (const auto& [id, r] : results) ++n[std::string(to_string(r.status))];
    return n;
}

void check_one_result_each(const std::multimap<std::string, PaymentResult>& results, size_t payments) {
    std::set<std::string> ids;
    for (const auto& [id, r] : results) ids.insert(id);
    CHECK(ids.size() == payments);
    CHECK(results.size() == payments);  // no payment answered twice
}

std::vector<int64_t> amounts(int n, int64_t cents = 0) {
    std::vector<int64_t> a;
    for (int i = 0; i < n; ++i) a.push_back(1000 + i * 100 + cents);
    return a;
}

// Sales as `turnout bench-connector --run-id <run>` makes them (payment_id <run>-<i>).
std::vector<RoutedPayment> bench_sales(const std::string& run, int n, int64_t amount = 1000) {
    std::vector<RoutedPayment> batch;
    for (int i = 0; i < n; ++i) {
        RoutedPayment p;
        p.request.payment_id = run + "-" + std::to_string(i);
        p.request.type = PaymentType::sale;
        p.request.merchant.id = "m-bench";
        p.request.amount = {amount, "EUR"};
        Instrument in;
        in.kind = InstrumentKind::card;
        in.pan = "4111111111111111";
        in.expiry = "2812";
        p.request.instrument = in;
        p.route.channels = {"acq-eu"};
        batch.push_back(p);
    }
    return batch;
}

// Every reversal the host received names its original as a host matching on field 90 and
// the terminal needs: field 41 is the one the original went out with, field 90 (MTI, STAN,
// transmission time, acquirer) matches exactly one request the host received, and a 0401
// repeats its 0400's STAN. Returns the number of reversals checked.
int check_reversal_identification(const std::vector<LedgerLine>& ledger) {
    std::map<std::string, const LedgerLine*> original;   // RRN → its (first) execution
    std::map<std::string, int> by_f90;                   // MTI+STAN+time+acquirer → executions
    for (const auto& l : ledger)
        if (l.kind == "X" && l.rest.size() >= 6) {
            original.emplace(l.rrn, &l);
            std::string acq = l.rest[5];
            if (acq.size() < 11) acq.insert(acq.begin(), 11 - acq.size(), '0');
            ++by_f90[l.mti + l.rest[3] + acq];
        }
    std::map<std::string, std::string> stan_of_0400;  // RRN → STAN
    int checked = 0;
    for (const auto& l : ledger) {
        if (l.kind != "R") continue;
        REQUIRE(l.rest.size() >= 4);
        CAPTURE(l.rrn);
        CAPTURE(l.mti);
        const std::string stan = l.rest[1], terminal = l.rest[2], f90 = l.rest[3];
        auto it = original.find(l.rrn);
        if (it != original.end()) {
            CHECK(terminal == it->second->rest[4]);  // field 41 of the original
            CHECK(f90.substr(0, 4) == it->second->mti);
            CHECK(f90.substr(4, 16) == it->second->rest[3]);
            CHECK(by_f90[f90.substr(0, 31)] == 1);  // names exactly one original
        }
        if (l.mti == "0400") stan_of_0400[l.rrn] = stan;
        if (l.mti == "0401") CHECK(stan == stan_of_0400[l.rrn]);
        ++checked;
    }
    return checked;
}

// Connected sockets of process `pid` on local port `port`, and how many have TCP_NODELAY.
std::pair<int, int> host_nodelay(pid_t pid, int port) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    REQUIRE_MESSAGE(pidfd >= 0, "pidfd_open: " << std::strerror(errno));
    int sockets = 0, nodelay = 0;
    for (const auto& de : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        const int target = std::atoi(de.path().filename().c_str());
        const int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0));
        if (fd < 0) continue;
        sockaddr_in local{}, peer{};
        socklen_t len = sizeof local, plen = sizeof peer;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 && local.sin_family == AF_INET &&
            ntohs(local.sin_port) == port && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) {
            ++sockets;
            int v = 0;
            socklen_t vl = sizeof v;
            if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v) ++nodelay;
        }
        ::close(fd);
    }
    ::close(pidfd);
    return {sockets, nodelay};
}

double late_count() { return metric_value("turnout_channel_late_responses_total", {{"channel", "acq-eu"}}); }

// acq-eu connections that came up in this process (the gauge is never lowered when a
// connector is destroyed, so a test compares it with its value before the connector).
double connections_up() { return metric_value("turnout_channel_connections", {{"channel", "acq-eu"}}); }

// Waits (60 s at most) until `ready` holds; returns whether it did.
bool wait_until(const std::function<bool()>& ready) {
    for (const int64_t until = now_ms() + 60000; now_ms() < until; std::this_thread::sleep_for(std::chrono::milliseconds(20)))
        if (ready()) return true;
    return ready();
}

// Connected sockets of this process whose peer is 127.0.0.1:`port`, and how many have TCP_NODELAY.
std::pair<int, int> own_nodelay(int port) {
    int sockets = 0, nodelay = 0;
    for (const auto& de : fs::directory_iterator("/proc/self/fd")) {
        const int fd = std::atoi(de.path().filename().c_str());
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.sin_family != AF_INET ||
            ntohs(peer.sin_port) != port)
            continue;
        ++sockets;
        int v = 0;
        socklen_t vl = sizeof v;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v) ++nodelay;
    }
    return {sockets, nodelay};
}

}  // namespace

TEST_CASE("iso8583 channel: approvals, declines by amount and share, 96 fails over to the next channel") {
    IsoRun r("decl", {"decline_share=0.2", "latency_ms=20"}, 5000);
    auto a = amounts(40);
    for (int i = 0; i < 5; ++i) a.push_back(2051 + i * 100);  // ..51 declined 51
    for (int i = 0; i < 5; ++i) a.push_back(3096 + i * 100);  // ..96 soft on acq-eu → psp-global
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    const auto ledger = r.ledger();
    int declined05 = 0, approved_host = 0;
    for (const auto& l : ledger) {
        CHECK(l.kind == "X");  // no reversals
        declined05 += l.code == "05";
        approved_host += l.code == "00";
    }
    int on_psp = 0, d51 = 0, d05 = 0, approved_eu = 0;
    for (const auto& [id, res] : results) {
        if (res.channel == "psp-global") ++on_psp;
        if (res.status == ResultStatus::declined && res.reason.code == "51") ++d51;
        if (res.status == ResultStatus::declined && res.reason.code == "05") ++d05;
        if (res.status == ResultStatus::approved && res.channel == "acq-eu") {
            ++approved_eu;
            const auto ref = iso8583::parse_channel_ref(res.channel_ref);
            REQUIRE_MESSAGE(ref, res.channel_ref);
            CHECK(ref->rrn == iso8583::rrn_for(id));
            CHECK(ref->approval == res.approval_code);
            CHECK(res.approval_code.size() == 6);
        }
    }
    MESSAGE("declines: " << a.size() << " payments → approved on acq-eu " << approved_eu << ", declined 05 " << d05
                         << ", declined 51 " << d51 << ", failed over to psp-global " << on_psp << ", reversals 0");
    CHECK(on_psp == 5);
    CHECK(d51 == 5);
    CHECK(d05 == declined05);
    CHECK(d05 > 0);
    CHECK(approved_eu == approved_host);
    CHECK(approved_eu + d05 + d51 + on_psp == static_cast<int>(a.size()));
}

TEST_CASE("iso8583 channel: a timed-out payment is reversed once and ends reversed") {
    IsoRun r("tmo", {"timeout_share=0.2"}, 400, kPromptReversal);
    const auto a = amounts(40);
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    auto n = by_status(results);
    std::map<std::string, int> reversals_per_rrn;
    int r0400 = 0, r0401 = 0;
    for (const auto& l : r.ledger())
        if (l.kind == "R") {
            ++reversals_per_rrn[l.rrn];
            r0400 += l.mti == "0400";
            r0401 += l.mti == "0401";
        }
    MESSAGE("timeouts: 40 payments → approved " << n["approved"] << ", reversed " << n["reversed"] << "; host got 0400 "
                                              << r0400 << ", 0401 " << r0401);
    CHECK(n["reversed"] > 0);
    CHECK(n["approved"] + n["reversed"] == 40);
    CHECK(r0400 == n["reversed"]);  // one 0400 per timed-out payment, acknowledged at once
    CHECK(r0401 == 0);
    for (const auto& [id, res] : results)
        if (res.status == ResultStatus::reversed) CHECK(reversals_per_rrn[iso8583::rrn_for(id)] == 1);
    // Each request was journaled before it left and forgotten once the stage committed its
    // outcome: nothing is left in doubt after a clean stop.
    std::set<std::string> journaled, live;
    for (const auto& f : fs::directory_iterator(r.dir / "journal")) {
        if (f.path().extension() != ".journal") continue;
        std::ifstream in(f.path());
        for (std::string kind, id, rest; in >> kind >> id && std::getline(in, rest);) {
            if (kind == "S") journaled.insert(id), live.insert(id);
            if (kind == "D") live.erase(id);
        }
    }
    CHECK(journaled.size() == 40);
    CHECK(live.empty());
}

TEST_CASE("iso8583 channel: MACs both ways; an answer with a wrong MAC is dropped as not received and reversed") {
    for (const char* key : {"acq-eu-mac", "acq-us-mac"}) {  // AES-CMAC, then ISO 9797-1 algorithm 3
        CAPTURE(key);
        IsoRun r(std::string("mac") + (key[4] == 'e' ? "c" : "r"), {"bad_mac=0.2"}, 400, kPromptReversal, true,
                 {key, "", {}});
        const auto a = amounts(40);
        const auto results = r.pay(a);
        r.stop_sim();
        check_one_result_each(results, a.size());
        auto n = by_status(results);
        int executed = 0, r0400 = 0;
        std::map<std::string, int> executions;
        for (const auto& l : r.ledger()) {
            if (l.kind == "X") ++executed, ++executions[l.rrn];
            r0400 += l.kind == "R" && l.mti == "0400";
        }
        const auto log = read_file(r.dir / "sim.log");
        const auto said = [&](const std::string& what) {
            const auto at = log.find(what + " ");
            return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + what.size() + 1);
        };
        MESSAGE(std::string(key) << ": 40 payments → approved " << n["approved"] << ", reversed " << n["reversed"]
                    << "; host: answers with a wrong MAC " << said("answers sent with a bad MAC")
                    << ", requests with a wrong MAC " << said("requests with a bad MAC") << ", 0400 " << r0400);
        // Every request the host read carried a MAC it verified.
        CHECK(said("requests with a bad MAC") == 0);
        // Each answer with a wrong MAC was not taken as the answer: that payment was reversed.
        CHECK(said("answers sent with a bad MAC") > 0);
        CHECK(n["reversed"] == said("answers sent with a bad MAC"));
        CHECK(n["approved"] + n["reversed"] == 40);
        CHECK(r0400 == n["reversed"]);
        for (const auto& [rrn, times] : executions) CHECK(times == 1);  // nothing executed twice
        CHECK(executed == 40);
    }
}

TEST_CASE("iso8583 channel: unanswered reversals are repeated, then the payment fails") {
    IsoRun r("unrev", {"timeout_share=0.2", "unanswered_reversals=1"}, 400, 400);
    const auto a = amounts(30);
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    auto n = by_status(results);
    int r0400 = 0, r0401 = 0;
    for (const auto& l : r.ledger())
        if (l.kind == "R") {
            CHECK(l.code == "unanswered");
            r0400 += l.mti == "0400";
            r0401 += l.mti == "0401";
        }
    MESSAGE("unanswered reversals: 30 payments → approved " << n["approved"] << ", failed " << n["failed"]
                                                          << "; host got 0400 " << r0400 << ", 0401 " << r0401);
    CHECK(n["failed"] > 0);
    CHECK(n["approved"] + n["failed"] == 30);
    CHECK(r0400 == n["failed"]);
    CHECK(r0401 == 2 * n["failed"]);  // reversal_retries: 2
    for (const auto& [id, res] : results)
        if (res.status == ResultStatus::failed) CHECK(res.reason.code == "unknown_outcome");
}

TEST_CASE("iso8583 channel: late responses are matched and counted, and the reversal decides") {
    const double before = late_count();
    IsoRun r("late", {"late_share=0.25", "late_ms=1500"}, 400, kPromptReversal);
    const auto a = amounts(40);
    const auto results = r.pay(a, [&](const IsoRun::Results& res) {
        int reversed = 0;
        for (const auto& [id, x] : res) reversed += x.status == ResultStatus::reversed;
        return late_count() - before >= reversed;
    });
    check_one_result_each(results, a.size());
    auto n = by_status(results);
    CHECK(n["reversed"] > 0);
    CHECK(n["approved"] + n["reversed"] == 40);
    // The late answers reach a connector that already reversed: counted, nothing changes.
    MESSAGE("late responses: 40 payments → approved " << n["approved"] << ", reversed " << n["reversed"]
                                                    << "; late responses counted " << late_count() - before);
    CHECK(late_count() - before == doctest::Approx(n["reversed"]));
    r.stop_sim();
}

TEST_CASE("iso8583 channel: dropped connections reconnect; nothing is executed without its result") {
    // A few requests in flight at a time: with all 60 written at once, one early drop per
    // connection left every payment unclear (reversed, none approved), which proves less.
    IsoExtra x;
    x.settings = "    max_in_flight: 4\n";
    IsoRun r("drop", {"drop_share=0.1"}, 5000, 1500, true, x);
    const auto a = amounts(60);
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    std::map<std::string, std::string> host_code;  // RRN → code of live executions
    std::set<std::string> reversed_rrn;
    for (const auto& l : r.ledger()) {
        if (l.kind == "X") host_code[l.rrn] = l.code;
        if (l.kind == "R") reversed_rrn.insert(l.rrn);
    }
    auto n = by_status(results);
    int moved = 0;
    for (const auto& [id, res] : results) moved += res.channel == "psp-global";
    MESSAGE("dropped connections: 60 payments → approved " << n["approved"] << " (" << moved << " on psp-global), reversed "
                                                         << n["reversed"] << "; host reversals " << reversed_rrn.size());
    CHECK(n["approved"] > 0);
    CHECK(n["approved"] + n["reversed"] == 60);
    for (const auto& [id, res] : results) {
        const auto rrn = iso8583::rrn_for(id);
        if (res.status == ResultStatus::reversed) {
            CHECK(reversed_rrn.count(rrn) == 1);
        } else if (res.channel == "acq-eu") {
            CHECK(host_code[rrn] == "00");
        } else {
            // Moved on to psp-global: acq-eu never executed it, or reversed it.
            CHECK((host_code.count(rrn) == 0 || reversed_rrn.count(rrn) == 1));
        }
    }
}

TEST_CASE("iso8583 channel: a payment sent again after a restart is answered from the host's ledger") {
    // No broker: the connector is driven directly, as the connector stage would after a
    // crash re-delivered its batch; the host process is restarted in between.
    IsoRun r("idem", {}, 5000, 1500, false);
    std::vector<RoutedPayment> batch;
    for (int i = 0; i < 30; ++i) {
        RoutedPayment p;
        p.request.payment_id = r.run + "-" + std::to_string(i);
        p.request.type = PaymentType::sale;
        p.request.merchant.id = "m-1";
        p.request.amount = {1000 + i * 100 + (i % 10 == 0 ? 51 : 0), "EUR"};
        Instrument in;
        in.pan = luhn_pan(i);
        in.expiry = "3012";
        p.request.instrument = in;
        p.route.channels = {"acq-eu"};
        batch.push_back(p);
    }
    std::vector<ChannelOutcome> first, second;
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        first = conn->call(batch);
        // Recorded: the journal forgets them, so a later delivery is a new request that the
        // host answers from its ledger.
        conn->committed();
    }
    r.stop_sim();
    r.start_sim({});
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        second = conn->call(batch);
    }
    r.stop_sim();
    REQUIRE(first.size() == batch.size());
    REQUIRE(second.size() == batch.size());
    int declined = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
        CAPTURE(i);
        CHECK(first[i].kind == second[i].kind);
        CHECK(first[i].code == second[i].code);
        CHECK(first[i].approval_code == second[i].approval_code);
        declined += first[i].kind == ChannelOutcome::Kind::declined;
    }
    CHECK(declined == 3);
    int executions = 0;
    for (const auto& l : r.ledger()) executions += l.kind == "X";
    CHECK(executions == 30);  // each payment executed once, answered twice
    std::ifstream log(r.dir / "sim.log");
    std::stringstream ss;
    ss << log.rdbuf();
    CHECK(ss.str().find("30 executed payments in the ledger") != std::string::npos);
    CHECK(ss.str().find("replayed 30") != std::string::npos);
}

TEST_CASE("iso8583 channel: mutual TLS to the host; without the right certificates no request reaches it") {
    // Two throw-away CAs: `good` signs the host's and the connector's certificates, `other`
    // is a CA the connector does not trust.
    const fs::path base = fs::path(kSource) / "var" / "test" / ("isotls" + std::to_string(now_ms()));
    const fs::path good = base / "good", other = base / "other";
    for (const auto& d : {good, other})
        REQUIRE(std::system((kSource + "/scripts/tls-ca --dir " + d.string() + " --days 2 >/dev/null").c_str()) == 0);
    const auto host_args = [](const fs::path& ca_dir, bool require_client) {
        std::vector<std::string> a{"--tls-cert", (ca_dir / "broker.pem").string(), "--tls-key", (ca_dir / "broker.key").string()};
        if (require_client) a.insert(a.end(), {"--tls-client-ca", (ca_dir / "ca.pem").string()});
        return a;
    };
    const auto tls = [&](const fs::path& ca, bool client_cert) {
        std::string s = "    tls:\n      ca_file: " + (ca / "ca.pem").string() + "\n      server_name: 127.0.0.1\n";
        if (client_cert)
            s += "      cert_file: " + (good / "client.pem").string() + "\n      key_file: " + (good / "client.key").string() + "\n";
        return s;
    };
    struct Case {
        const char* what;
        std::string settings;
        std::vector<std::string> sim_args;
        bool reaches_host;
    };
    const Case cases[] = {
        {"mutual TLS, certificates from the shared CA", tls(good, true), host_args(good, true), true},
        {"host requires a client certificate, the connector has none", tls(good, false), host_args(good, true), false},
        {"host's certificate from a CA the connector does not trust", tls(good, true), host_args(other, true), false},
    };
    for (const auto& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        IsoRun r("tls", {}, 2000, 1000, true, {"", c.settings, c.sim_args});
        const auto a = amounts(c.reaches_host ? 10 : 4);
        const auto results = r.pay(a);
        r.stop_sim();
        check_one_result_each(results, a.size());
        int on_acq = 0, executed = 0;
        for (const auto& [id, res] : results) on_acq += res.channel == "acq-eu" && res.status == ResultStatus::approved;
        for (const auto& l : r.ledger()) executed += l.kind == "X";
        const auto log = r.sim_log();
        const auto at = log.find("TLS handshakes refused ");
        const int refused = at == std::string::npos ? -1 : std::atoi(log.c_str() + at + 23);
        std::map<std::string, int> statuses;
        for (const auto& [id, res] : results) ++statuses[std::string(to_string(res.status)) + "@" + res.channel];
        std::string seen;
        for (const auto& [k, n] : statuses) seen += " " + k + "×" + std::to_string(n);
        MESSAGE(what << ": results" << seen << "; executed by the host " << executed
                       << ", handshakes the host refused " << refused);
        // (The host also counts the harness's plain-TCP probes of its port among the refused.)
        if (c.reaches_host) {
            CHECK(on_acq == 10);
            CHECK(executed == 10);
        } else {
            // Nothing reached the host. A handshake refused before the connector wrote goes to
            // the next channel; under TLS 1.3 a missing client certificate is refused only
            // after the client's handshake ends, so what it wrote is unclear and is reversed
            // (then failed, the reversal finding no host), never sent elsewhere.
            CHECK(on_acq == 0);
            CHECK(executed == 0);
        }
    }
    fs::remove_all(base);
}

namespace {
// PIN blocks as an acquirer's terminals send them: under the acquiring zone key of
// config/dev-keys.yaml (AES, ISO 9564 format 4), hex.
std::string pin_block_hex(const std::string& key, const std::string& pin, const std::string& pan) {
    static const CardVault acquirer(load_vault_keys(kSource + "/config/dev-keys.yaml"));
    const auto b = encipher_pin(acquirer.provider(), key, pin, pan);
    REQUIRE(!b.empty());
    static const char* k = "0123456789ABCDEF";
    std::string s;
    for (auto c : b) s += k[c >> 4], s += k[c & 15];
    return s;
}
}  // namespace

TEST_CASE("iso8583 channel: card numbers opened and messages MACed inside a PKCS#11 token") {
    // The channel's retail MAC key (ISO 9797-1 algorithm 3) was imported into the token from
    // two components; the host simulator checks every MAC with the bank's clear copy and
    // answers a wrong one 63 without executing.
    IsoExtra x;
    x.hsm = true;
    x.mac_key = "acq-us-mac";
    // PIN blocks under the acquiring zone key, both zone PIN keys imported into the token.
    x.pin_key = "acq-eu-zpk";
    x.pin_block = [](size_t, const std::string& pan) { return pin_block_hex("acquiring-zpk", pan.substr(pan.size() - 4), pan); };
    IsoRun r("hsm", {}, 2000, kPromptReversal, true, x);
    const auto a = amounts(20);
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    const auto log = r.sim_log();
    CHECK(log.find("requests with a bad MAC 0, answers sent with a bad MAC 0") != std::string::npos);
    CHECK(log.find("PINs verified 20, PINs refused 0") != std::string::npos);
    // A card number the connector could not open would be declined card_data_unavailable.
    int on_acq = 0, unopened = 0;
    for (const auto& [id, res] : results) {
        on_acq += res.channel == "acq-eu" && res.status == ResultStatus::approved;
        unopened += res.reason.code == "card_data_unavailable";
    }
    MESSAGE("keys in SoftHSM2: 20 payments → approved on acq-eu " << on_acq << ", card_data_unavailable " << unopened);
    CHECK(on_acq == 20);
    CHECK(unopened == 0);
    ::unsetenv("SOFTHSM2_CONF");
}

TEST_CASE("iso8583 channel: a card number that cannot be opened is declined card_data_unavailable, never sent") {
    // Sealed card numbers as the router leaves them; every other one is an envelope cut from
    // another payment, which does not open for this one. The connector must not send such a
    // payment at all (the host would execute a sale without a card number).
    IsoRun r("nocard", {}, 2000, kPromptReversal, false);
    auto batch = bench_sales(r.run, 6);
    const CardVault vault(load_vault_keys(kSource + "/config/dev-keys.yaml"));
    for (size_t i = 0; i < batch.size(); ++i) {
        auto& in = *batch[i].request.instrument;
        const std::string bound_to = i % 2 ? "another-payment" : batch[i].request.payment_id;
        in.sealed_pan = vault.seal(in.pan, {kPanField, bound_to});
        in.pan.clear();
    }
    std::vector<ChannelOutcome> out;
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        out = conn->call(batch);
        conn->committed();
    }
    r.stop_sim();
    REQUIRE(out.size() == batch.size());
    for (size_t i = 0; i < out.size(); ++i) {
        CAPTURE(i);
        if (i % 2) {
            CHECK(out[i].kind == ChannelOutcome::Kind::declined);
            CHECK(out[i].code == "card_data_unavailable");
        } else {
            CHECK(out[i].kind == ChannelOutcome::Kind::approved);
        }
    }
    int executed = 0;
    for (const auto& l : r.ledger()) executed += l.kind == "X";
    CHECK(executed == 3);
}

TEST_CASE("iso8583 channel: PIN blocks translated from the acquiring zone key into field 52, checked by the host") {
    // Per three payments: the card's PIN (the host's rule: its last four digits), a wrong
    // PIN, and a block under the channel's own key instead of the zone's. The host checks
    // field 52 under its copy of the channel key (format 0, triple DES).
    IsoExtra x;
    x.pin_key = "acq-eu-zpk";
    x.pin_block = [](size_t i, const std::string& pan) {
        const std::string right = pan.substr(pan.size() - 4), wrong = right == "0000" ? "1111" : "0000";
        if (i % 3 == 0) return pin_block_hex("acquiring-zpk", right, pan);
        if (i % 3 == 1) return pin_block_hex("acquiring-zpk", wrong, pan);
        return pin_block_hex("acq-eu-zpk", right, pan);
    };
    IsoRun r("pin", {}, 2000, kPromptReversal, true, x);
    const auto a = amounts(12);
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    int approved = 0, wrong_pin = 0, untranslated = 0;
    for (const auto& [id, res] : results) {
        const int i = std::stoi(id.substr(id.rfind('-') + 1));
        CAPTURE(id);
        CAPTURE(res.reason.code);
        CHECK(res.channel == "acq-eu");
        if (i % 3 == 0) approved += res.status == ResultStatus::approved;
        if (i % 3 == 1) wrong_pin += res.status == ResultStatus::declined && res.reason.code == "55";
        if (i % 3 == 2) untranslated += res.status == ResultStatus::declined && res.reason.code == "invalid_pin_block";
    }
    int executed = 0;
    for (const auto& l : r.ledger()) executed += l.kind == "X";
    const auto log = r.sim_log();
    MESSAGE("PIN payments: 12 → approved " << approved << ", declined 55 (wrong PIN) " << wrong_pin
                                          << ", declined invalid_pin_block " << untranslated << "; executed by the host "
                                          << executed);
    CHECK(approved == 4);
    CHECK(wrong_pin == 4);
    CHECK(untranslated == 4);
    CHECK(executed == 4);
    CHECK(log.find("PINs verified 4, PINs refused 4") != std::string::npos);
}

TEST_CASE("iso8583 channel: a payment with a PIN never goes to a channel that takes no PIN") {
    // No channel of the plan has a pin_key: each passes the payment on unsent, and none
    // executes it without its PIN.
    IsoExtra x;
    x.pin_block = [](size_t, const std::string& pan) { return pin_block_hex("acquiring-zpk", pan.substr(pan.size() - 4), pan); };
    IsoRun r("nopin", {}, 2000, kPromptReversal, true, x);
    const auto a = amounts(6);
    const auto results = r.pay(a);
    r.stop_sim();
    check_one_result_each(results, a.size());
    for (const auto& [id, res] : results) {
        CAPTURE(id);
        CHECK(res.status != ResultStatus::approved);
        REQUIRE(res.route);
        REQUIRE(!res.route->attempts.empty());
        for (const auto& at : res.route->attempts) {
            CHECK(at.outcome == "soft_failure");
            CHECK(at.reason == "pin_not_supported");
        }
    }
    int executed = 0;
    for (const auto& l : r.ledger()) executed += l.kind == "X";
    CHECK(executed == 0);
}

TEST_CASE("iso8583 channel: with the host down, every payment moves to the next channel of its plan") {
    IsoRun r("down", {}, 5000);
    r.stop_sim();  // nothing listens: connects fail, no request leaves
    const auto a = amounts(20);
    const auto results = r.pay(a);
    check_one_result_each(results, a.size());
    int on_psp = 0;
    for (const auto& [id, res] : results) {
        CHECK(res.status == ResultStatus::approved);
        on_psp += res.channel == "psp-global";
        REQUIRE(res.route);
        REQUIRE(!res.route->attempts.empty());
        CHECK(res.route->attempts.front().channel == "acq-eu");
        CHECK(res.route->attempts.front().outcome == "soft_failure");
    }
    MESSAGE("host down: 20 payments → approved on psp-global " << on_psp);
    CHECK(on_psp == 20);
}

TEST_CASE("iso8583 channel: reversals carry the original's terminal and a field 90 naming one original") {
    // Two connections, many requests each in the same seconds, a share never answered: every
    // reversal must find its original on a host matching field 90 + terminal.
    IsoRun r("ident", {"timeout_share=0.3"}, 300, kPromptReversal, false);
    const auto batch = bench_sales(r.run, 120);
    std::vector<ChannelOutcome> out;
    {
        const double up_before = connections_up();
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        REQUIRE(wait_until([&] { return connections_up() - up_before >= 2; }));  // both connections up
        out = conn->call(batch);
        conn->committed();
    }
    r.stop_sim();
    int approved = 0, reversed = 0;
    for (const auto& o : out) {
        approved += o.kind == ChannelOutcome::Kind::approved;
        if (o.kind == ChannelOutcome::Kind::reversed) {
            ++reversed;
            CHECK(o.code == "no_response");  // the host found the original and undid it
        }
    }
    const auto ledger = r.ledger();
    std::set<std::string> terminals;
    int not_found = 0;
    for (const auto& l : ledger) {
        if (l.kind == "X") terminals.insert(l.rest.at(4));
        if (l.kind == "R") not_found += l.code != "acknowledged";
    }
    const int checked = check_reversal_identification(ledger);
    MESSAGE("identification: 120 payments over " << terminals.size() << " terminals → approved " << approved
                                                << ", reversed " << reversed << "; reversals checked " << checked
                                                << ", not matched by the host " << not_found);
    CHECK(terminals.size() == 2);
    CHECK(reversed > 0);
    CHECK(approved + reversed == 120);
    CHECK(checked == reversed);
    CHECK(not_found == 0);
}

TEST_CASE("iso8583 channel: a 0410 with 96 leaves the authorization live: repeated as 0401, then failed unknown_outcome") {
    IsoRun r("rev96", {"timeout_share=1", "reversal_code=96"}, 300, 300, false);
    const auto batch = bench_sales(r.run, 5);
    std::vector<ChannelOutcome> out;
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        out = conn->call(batch);
        conn->committed();
    }
    r.stop_sim();
    for (const auto& o : out) {
        CHECK(o.kind == ChannelOutcome::Kind::failed);
        CHECK(o.code == "unknown_outcome");
        CHECK(o.message.find("96") != std::string::npos);
    }
    std::map<std::string, std::map<std::string, int>> per_rrn;  // RRN → MTI → count
    for (const auto& l : r.ledger())
        if (l.kind == "R") {
            CHECK(l.code == "code_96");
            ++per_rrn[l.rrn][l.mti];
        }
    CHECK(per_rrn.size() == 5);
    for (const auto& [rrn, n] : per_rrn) {
        CAPTURE(rrn);
        CHECK(n.at("0400") == 1);
        CHECK(n.at("0401") == 2);  // reversal_retries: 2
    }
    CHECK(check_reversal_identification(r.ledger()) == 15);
}

TEST_CASE("iso8583 channel: a 0410 with 25 (original unknown to the host) ends the payment reversed, not executed") {
    // The host drops the connection on every request and executes nothing; the reversal
    // finds no original and is answered 25.
    IsoRun r("rev25", {"drop_share=1"}, 300, 1500, false);
    const auto batch = bench_sales(r.run, 4);
    int not_found = 0;
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        for (const auto& p : batch) {  // one at a time: each is written before the drop
            const auto o = conn->call(std::span(&p, 1)).at(0);
            CAPTURE(o.code);
            if (o.kind == ChannelOutcome::Kind::reversed) {
                CHECK(o.code == "original_not_found");
                ++not_found;
            } else {
                CHECK(o.kind == ChannelOutcome::Kind::soft_failure);  // not written before the drop
            }
        }
        conn->committed();
    }
    r.stop_sim();
    int executed = 0, answered25 = 0;
    for (const auto& l : r.ledger()) {
        executed += l.kind == "X";
        answered25 += l.kind == "R" && l.code == "not_found";
    }
    MESSAGE("0410 with 25: 4 payments → reversed original_not_found " << not_found);
    CHECK(executed == 0);
    CHECK(not_found > 0);
    CHECK(answered25 >= not_found);
}

TEST_CASE("iso8583 channel: a site taking over reverses by RRN what the host executed, and learns what it never had") {
    // Another process (the lost site) executed two sales; a fresh connector that never sent
    // them (no journal entry, no STAN, no terminal) cancels those two and two the host never
    // saw. The host finds the executed ones by RRN (field 90 carries zeros) and reverses
    // them; the others are answered 25. Nothing is sent or executed by the cancel.
    IsoRun r("cancel", {}, 400, 1500, false);
    const auto batch = bench_sales(r.run, 4);
    {
        auto first = make_connector(*r.cfg.channel("acq-eu"));
        const auto sent = first->call(std::span(batch.data(), 2));
        for (const auto& o : sent) REQUIRE(o.kind == ChannelOutcome::Kind::approved);
        first->committed();
    }
    std::vector<ChannelOutcome> asked;
    {
        auto other = make_connector(*r.cfg.channel("acq-eu"));
        asked = other->cancel(batch);
    }
    r.stop_sim();
    REQUIRE(asked.size() == 4);
    for (size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        CAPTURE(asked[i].code);
        CHECK(asked[i].kind == ChannelOutcome::Kind::reversed);
        CHECK((asked[i].code == "original_not_found") == (i >= 2));
    }
    int executed = 0, acknowledged = 0, not_found = 0;
    for (const auto& l : r.ledger()) {
        executed += l.kind == "X";
        acknowledged += l.kind == "R" && l.code == "acknowledged";
        not_found += l.kind == "R" && l.code == "not_found";
    }
    CHECK(executed == 2);
    CHECK(acknowledged == 2);
    CHECK(not_found == 2);
}

TEST_CASE("iso8583 channel: requests in flight when the process dies are reversed when their payments come back") {
    // `turnout bench-connector` sends 10 sales to a host that executes and never answers, and
    // is killed before any timeout; the payments come back to a new connector (as the stage
    // re-delivers a batch whose outcomes never committed), which must reverse what the dead
    // process sent instead of sending new requests.
    IsoRun r("crash", {"timeout_share=1"}, 60000, kPromptReversal, false);
    const int n = 10;
    pid_t bench = ::fork();
    if (bench == 0) {
        const int fd = ::open((r.dir / "bench.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        std::vector<std::string> args{TURNOUT_BINARY, "bench-connector", "--config", (r.dir / "turnout.yaml").string(),
                                      "--channel", "acq-eu", "--count", std::to_string(n), "--inflight",
                                      std::to_string(n), "--run-id", r.run};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    auto executed = [&] {
        int x = 0;
        for (const auto& l : r.ledger()) x += l.kind == "X";
        return x;
    };
    for (const int64_t until = now_ms() + 90000; now_ms() < until && executed() < n;)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(bench, SIGKILL);
    int st = 0;
    ::waitpid(bench, &st, 0);
    REQUIRE_MESSAGE(executed() == n, "the host executed the bench's requests; see " << (r.dir / "bench.log").string());

    const auto batch = bench_sales(r.run, n);
    std::vector<ChannelOutcome> out;
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        out = conn->call(batch);
        conn->committed();
    }
    r.stop_sim();
    int reversed = 0;
    for (const auto& o : out) {
        CAPTURE(o.code);
        CAPTURE(o.message);
        CHECK(o.kind == ChannelOutcome::Kind::reversed);
        CHECK(o.code == "no_response");
        reversed += o.kind == ChannelOutcome::Kind::reversed;
    }
    std::map<std::string, int> executions, reversals;
    for (const auto& l : r.ledger()) {
        if (l.kind == "X") ++executions[l.rrn];
        if (l.kind == "R" && l.code == "acknowledged") ++reversals[l.rrn];
    }
    MESSAGE("crash after sending: " << n << " requests executed by the host, none answered; after the restart "
                                    << reversed << " reversed, " << reversals.size() << " originals reversed at the host");
    CHECK(executions.size() == static_cast<size_t>(n));
    for (const auto& [rrn, k] : executions) CHECK(k == 1);  // nothing sent twice
    CHECK(reversals.size() == static_cast<size_t>(n));
    CHECK(r.sim_log().find("replayed 0,") != std::string::npos);  // no request came again
    CHECK(check_reversal_identification(r.ledger()) == n);
}

TEST_CASE("iso8583 channel: after an aborted transaction a payment gets the outcome it had, without a second request") {
    IsoRun r("abort", {}, 5000, 1500, false);
    auto batch = bench_sales(r.run, 10);
    batch[3].request.amount.value = 1051;  // declined 51
    std::vector<ChannelOutcome> first, second;
    {
        auto conn = make_connector(*r.cfg.channel("acq-eu"));
        first = conn->call(batch);
        conn->aborted();  // the stage's transaction aborted: the batch is processed again
        second = conn->call(batch);
        conn->committed();
    }
    r.stop_sim();
    REQUIRE(first.size() == second.size());
    for (size_t i = 0; i < first.size(); ++i) {
        CAPTURE(i);
        CHECK(first[i].kind == second[i].kind);
        CHECK(first[i].code == second[i].code);
        CHECK(first[i].approval_code == second[i].approval_code);
        CHECK(first[i].channel_ref == second[i].channel_ref);
    }
    CHECK(first[3].kind == ChannelOutcome::Kind::declined);
    int x = 0, rev = 0;
    for (const auto& l : r.ledger()) {
        x += l.kind == "X";
        rev += l.kind == "R";
    }
    CHECK(x == 10);
    CHECK(rev == 0);
    CHECK(r.sim_log().find("replayed 0,") != std::string::npos);
}

TEST_CASE("iso8583 channel: the connector's sockets have Nagle off, the host simulator's too") {
    IsoRun r("nodelay", {}, 5000, 1500, false);
    double up_before = connections_up();
    auto conn = make_connector(*r.cfg.channel("acq-eu"));
    const auto out = conn->call(bench_sales(r.run, 4));
    REQUIRE(out.size() == 4);
    // The pool is connected (connections: 2) and the host has accepted both; the second
    // connection may come up after the payments were answered on the first.
    wait_until([&] { return connections_up() - up_before >= 2 && host_nodelay(r.sim, r.port).first >= 2; });
    const auto own = own_nodelay(r.port);
    CHECK(own.first == 2);
    CHECK(own.second == own.first);
    // The simulator's side: its accepted sockets, taken from its process (pidfd_getfd).
    const auto host = host_nodelay(r.sim, r.port);
    CHECK(host.first == 2);
    CHECK(host.second == host.first);
    conn.reset();
    r.stop_sim();
    // And a host left with Nagle on is seen as such (the check can tell).
    IsoRun nagle("nagle", {"nagle=1"}, 5000, 1500, false);
    up_before = connections_up();
    auto c2 = make_connector(*nagle.cfg.channel("acq-eu"));
    REQUIRE(c2->call(bench_sales(nagle.run, 2)).size() == 2);
    wait_until([&] { return connections_up() - up_before >= 2 && host_nodelay(nagle.sim, nagle.port).first >= 2; });
    const auto off = host_nodelay(nagle.sim, nagle.port);
    CHECK(off.first == 2);
    CHECK(off.second == 0);
    c2.reset();
    nagle.stop_sim();
}

TEST_CASE("iso8583 channel: the switch killed with requests in flight reverses them after its restart, sends nothing twice") {
    // The whole switch as a child process; the host executes every sale and never answers,
    // the switch is killed with SIGKILL while its connector waits, then started again: the
    // re-delivered payments must be reversed (the journal), not sent as new 0200s.
    // The timeout only has to outlast the moment between the last request reaching the host
    // and the kill; it is what a batch delivered to the connector ahead of the others would
    // wait (and be reversed for) before the rest is sent.
    IsoRun r("swcrash", {"timeout_share=1"}, 10000, kPromptReversal);
    auto start_switch = [&] {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const int fd = ::open((r.dir / "switch.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::execl(TURNOUT_BINARY, "turnout", "--log-level", "warn", "all", "--config", (r.dir / "turnout.yaml").c_str(),
                    "--instance", "0", "--metrics-port", "0", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        return pid;
    };
    const int n = 8;
    // Published before the switch starts and all keyed to one partition (each stage reads
    // them in one fetch), so that they reach the connector in one batch.
    std::vector<std::string> ids;
    for (int k = 0; static_cast<int>(ids.size()) < n; ++k) {
        const std::string id = r.run + "-" + std::to_string(k);
        if (partition_for_key(id, r.cfg.kafka.partitions) == partition_for_key(r.run + "-0", r.cfg.kafka.partitions))
            ids.push_back(id);
    }
    kafka::Producer producer(r.cfg.kafka, {{"enable.idempotence", "true"}});
    for (int i = 0; i < n; ++i) {
        const std::string& id = ids[static_cast<size_t>(i)];
        std::ostringstream v;
        v << R"({"payment_id":")" << id << R"(","type":"sale","merchant":{"id":"m-1"},"amount":{"value":)" << 1000 + i * 100
          << R"(,"currency":"EUR"},"instrument":{"kind":"card","pan":")" << luhn_pan(i)
          << R"(","expiry":"3012"},"created_at":"2026-11-26T09:00:00.000Z"})";
        REQUIRE(producer.produce({r.cfg.kafka.topics.requests, id, v.str(), {}}));
    }
    producer.flush(10000);
    REQUIRE(producer.queued() == 0);
    pid_t sw = start_switch();
    auto executed = [&] {
        int x = 0;
        for (const auto& l : r.ledger()) x += l.kind == "X";
        return x;
    };
    for (int64_t until = now_ms() + 90000; now_ms() < until && executed() < n;)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(sw, SIGKILL);
    ::waitpid(sw, nullptr, 0);
    REQUIRE_MESSAGE(executed() == n, "the host executed every sale; see " << (r.dir / "switch.log").string());
    sw = start_switch();
    std::multimap<std::string, PaymentResult> results;
    for (int64_t until = now_ms() + 120000; now_ms() < until;) {
        results.clear();
        std::set<std::string> ids;
        for (const auto& rec : read_all(r.cfg, {r.cfg.kafka.topics.results}))
            if (auto res = decode_result(rec.value)) {
                ids.insert(res->payment_id);
                results.emplace(res->payment_id, *res);
            }
        if (ids.size() >= static_cast<size_t>(n)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    ::kill(sw, SIGTERM);
    ::waitpid(sw, nullptr, 0);
    r.stop_sim();
    check_one_result_each(results, n);
    std::map<std::string, int> executions;
    int acknowledged = 0;
    for (const auto& l : r.ledger()) {
        if (l.kind == "X") ++executions[l.rrn];
        acknowledged += l.kind == "R" && l.code == "acknowledged";
    }
    auto st = by_status(results);
    // The restarted switch found the killed one's requests in its journal and reversed them.
    const std::string log = read_file(r.dir / "switch.log");
    int recovered = 0;
    for (size_t pos = 0; (pos = log.find("was in flight when an earlier process stopped", pos)) != std::string::npos; ++pos)
        ++recovered;
    MESSAGE("switch killed with " << n << " sales in flight: after the restart reversed " << st["reversed"]
                                  << " (in flight at the kill " << recovered << "), approved " << st["approved"]
                                  << "; host reversals acknowledged " << acknowledged);
    CHECK(recovered >= 1);
    for (const auto& [id, res] : results) {
        CAPTURE(id);
        CHECK(res.status == ResultStatus::reversed);
        CHECK(res.reason.code == "no_response");
        CHECK(res.channel == "acq-eu");
    }
    CHECK(executions.size() == static_cast<size_t>(n));
    for (const auto& [rrn, k] : executions) CHECK(k == 1);
    CHECK(acknowledged == n);
    CHECK(r.sim_log().find("replayed 0,") != std::string::npos);  // no 0200 came again
    CHECK(check_reversal_identification(r.ledger()) == n);
}
