// Partition-local state stores on the real broker: after a history of payments and a SIGKILL
// of the stateful roles, a restart replays only the changelog written since each store's
// checkpoint, and everything old is still known (a duplicate, a refund against its capture,
// the status inquiry); with a short retention, expired payment_ids are accepted again and
// the stores drop them.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "kafka/topic_reader.hpp"
#include "kafka/changelog.hpp"
#include "kafka/state_store.hpp"
#include "../metric_checks.hpp"
#include "requests_kit.hpp"
#include "security/card_vault.hpp"
#include "domain/life_cycle.hpp"
#include "state/status_query.hpp"
#include "state/status_server.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

// Σ of a metric family's samples on a role's /metrics whose labels contain `match`.
double scrape(int port, const std::string& family, const std::string& match = "") {
    const std::string cmd = "curl -s --max-time 5 http://127.0.0.1:" + std::to_string(port) + "/metrics";
    std::string text;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[65536];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
        ::pclose(f);
    }
    double sum = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(family + "{", 0) != 0 && line.rfind(family + " ", 0) != 0) continue;
        if (!match.empty() && line.find(match) == std::string::npos) continue;
        sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

// Counts distinct payment_ids on payments.results until `n` of those in `ids` (all when
// empty) are there or the deadline passes; returns the results of `watch`.
struct ResultCounter {
    explicit ResultCounter(const Config& cfg)
        : cfg_(cfg), c_(cfg.kafka, "turnout.it.count." + std::to_string(now_ms())) {
        c_.assign_from_beginning(cfg.kafka.topics.results);
    }
    size_t until(size_t n, int timeout_ms) {
        for (const int64_t end = now_ms() + timeout_ms; seen.size() < n && now_ms() < end;) {
            c_.poll(200, [&](const kafka::Record& m) {
                if (auto r = decode_result(m.value)) {
                    seen.insert(r->payment_id);
                    by_id.emplace(r->payment_id, *r);
                    if (first_at_ms == 0) first_at_ms = now_ms();
                }
            });
        }
        return seen.size();
    }
    std::set<std::string> seen;
    std::multimap<std::string, PaymentResult> by_id;
    int64_t first_at_ms = 0;

private:
    const Config& cfg_;
    kafka::TopicReader c_;
};

}  // namespace

TEST_CASE("stores after a history and a SIGKILL: the restart replays only the tail; old payments are still known") {
    // 200,000 payments by default, as the bar asks; TURNOUT_IT_HISTORY may lower it on a slow machine.
    const char* env = std::getenv("TURNOUT_IT_HISTORY");
    const int history = env && *env ? std::atoi(env) : 200000;
    const int state_port = free_port();
    auto run = make_run("st-hist", [&](std::string& yaml) {
        replace_once(yaml, "http_port: 0", "http_port: " + std::to_string(state_port));
    });
    const Config& cfg = run.cfg;
    const fs::path config_file = run.dir / "turnout.yaml";
    {
        std::string yaml = isolated_yaml(run.id, run.dir);
        replace_once(yaml, "http_port: 0", "http_port: " + std::to_string(state_port));
        std::ofstream(config_file) << yaml;
    }
    const std::map<std::string, int> ports{{"router", free_port()}, {"risk", free_port()}, {"state", free_port()},
                                           {"settlement", free_port()}};
    auto start = [&](const std::string& role) {
        return spawn_turnout({"--log-level", "info", role, "--config", config_file.string(), "--instance", "0",
                           "--metrics-port", std::to_string(ports.at(role))},
                          run.dir / (role + ".log"));
    };
    std::map<std::string, pid_t> pids;
    for (const auto& [role, port] : ports) pids[role] = start(role);
    std::vector<pid_t> connectors;
    for (const char* ch : {"acq-eu", "acq-us", "psp-global"})
        connectors.push_back(spawn_turnout({"--log-level", "warn", "connector", "--channel", ch, "--config",
                                         config_file.string(), "--instance", "0", "--metrics-port", "0"},
                                        run.dir / (std::string("connector-") + ch + ".log")));

    auto p = producer_for(cfg);
    ResultCounter results(cfg);
    // The first payments: a sale (sent again later), an authorization captured in part.
    const auto s0 = sale(run.id + "-S0");
    const auto a0 = sale(run.id + "-A0", "m-safe", 5000, PaymentType::authorize);
    send_request(p, cfg, s0);
    send_request(p, cfg, a0);
    flush(p);
    REQUIRE(results.until(2, 90000) == 2);
    const PaymentResult a0_result = results.by_id.find(a0.payment_id)->second;
    REQUIRE(a0_result.status == ResultStatus::approved);
    const auto c0 = follow_up(run.id + "-C0", PaymentType::capture, 3000, a0_result);
    send_request(p, cfg, c0);
    flush(p);
    REQUIRE(results.until(3, 60000) == 3);
    REQUIRE(results.by_id.find(c0.payment_id)->second.status == ResultStatus::approved);

    // The history: sales, each its own card.
    const int64_t t0 = now_ms();
    for (int i = 0; i < history; ++i) {
        send_request(p, cfg, sale(run.id + "-h" + std::to_string(i)));
        if (i % 20000 == 0) p.poll(0);
    }
    flush(p);
    const size_t answered = results.until(static_cast<size_t>(history) + 3, 600000);
    MESSAGE(history << " payments answered in " << (now_ms() - t0) / 1000.0 << " s");
    REQUIRE(answered == static_cast<size_t>(history) + 3);
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the state role's last commit

    // SIGKILL of the stateful roles (connectors keep running).
    for (const auto& role : {"router", "risk", "state", "settlement"}) {
        ::kill(pids[role], SIGKILL);
        ::waitpid(pids[role], nullptr, 0);
    }
    // What a restore may replay at most: the changelog past each store's local checkpoint.
    struct StoreOf {
        std::string role, store, topic;
    };
    const std::vector<StoreOf> stores{{"router", "ledger", cfg.kafka.topics.lifecycle},
                                      {"state", "state", cfg.kafka.topics.state}};
    int64_t tail = 0, whole = 0;
    for (const auto& s : stores)
        for (int32_t part = 0; part < cfg.kafka.partitions; ++part) {
            const auto dir = kafka::role_state_dir(cfg, s.role, "0") / s.store / std::to_string(part);
            REQUIRE(fs::exists(dir));
            int64_t checkpoint = 0;
            {
                kafka::PartitionStore st({s.store, s.topic, 0, true, {}}, part, dir, nullptr);
                checkpoint = st.checkpoint();
            }
            const auto b = kafka::changelog_bounds(cfg.kafka, s.topic, part);
            tail += std::max<int64_t>(0, b.end - std::max(checkpoint, b.log_start));
            whole += b.end - b.log_start;
        }
    MESSAGE("changelog offsets past the local checkpoints: " << tail << " of " << whole);

    const int64_t restart_at = now_ms();
    for (const auto& role : {"router", "risk", "state", "settlement"}) pids[role] = start(role);
    // A new payment after the restart: its result shows the switch answering again.
    const auto fresh = sale(run.id + "-after");
    send_request(p, cfg, fresh);
    flush(p);
    const int64_t fresh_from = now_ms();
    results.until(static_cast<size_t>(history) + 4, 120000);
    REQUIRE(results.seen.count(fresh.payment_id) == 1);
    MESSAGE("after SIGKILL + restart, a new payment answered " << (now_ms() - restart_at) / 1000.0
                                                               << " s after the restart (sent "
                                                               << (fresh_from - restart_at) / 1000.0 << " s after)");

    // Restored from the local checkpoints only: the metric counts what was replayed.
    double restored = 0, full = 0, tails = 0;
    for (const auto& role : {"router", "state"}) {
        restored += scrape(ports.at(role), "turnout_store_restored_records_total");
        full += scrape(ports.at(role), "turnout_store_restores_total", "kind=\"full\"");
        tails += scrape(ports.at(role), "turnout_store_restores_total", "kind=\"tail\"");
    }
    MESSAGE("records replayed on restore (turnout_store_restored_records_total): " << restored << "; tail restores "
                                                                                   << tails << ", full " << full);
    CHECK(full == 0);
    CHECK(tails == static_cast<double>(stores.size()) * cfg.kafka.partitions);  // every store of both roles
    CHECK(restored <= static_cast<double>(tail));
    CHECK(static_cast<double>(tail) * 4 < static_cast<double>(whole));  // a tail, not the history

    // A duplicate of one of the first payments; a refund over what was captured and one
    // within it, 200,000 payments later.
    const auto r_over = follow_up(run.id + "-R-over", PaymentType::refund, 3001, a0_result);
    const auto r_ok = follow_up(run.id + "-R-ok", PaymentType::refund, 3000, a0_result);
    send_request(p, cfg, s0);
    send_request(p, cfg, r_over);
    flush(p);
    results.until(static_cast<size_t>(history) + 5, 60000);
    send_request(p, cfg, r_ok);
    flush(p);
    results.until(static_cast<size_t>(history) + 6, 60000);
    for (const int64_t until = now_ms() + 30000; results.by_id.count(s0.payment_id) < 2 && now_ms() < until;)
        results.until(results.seen.size() + 1, 500);
    CHECK(outcomes(results.by_id, s0.payment_id) == "approved duplicate_request");
    CHECK(outcomes(results.by_id, r_over.payment_id) == "refund_exceeds_captured");
    CHECK(outcomes(results.by_id, r_ok.payment_id) == "approved");

    // The status inquiry finds the first authorization, by its id and by its capture's.
    std::optional<PaymentLifeCycle> lc;
    for (const int64_t until = now_ms() + 30000; now_ms() < until; std::this_thread::sleep_for(std::chrono::milliseconds(200))) {
        const auto reply = fetch_payment_status("127.0.0.1", state_port, a0.payment_id);
        if (reply.status == 200 && (lc = decode_life_cycle(reply.body)) && lc->refunded == 3000) break;
    }
    REQUIRE(lc);
    CHECK(lc->captured == 3000);
    CHECK(lc->refunded == 3000);
    CHECK(fetch_payment_status("127.0.0.1", state_port, c0.payment_id).status == 200);

    for (auto& [role, pid] : pids) ::kill(pid, SIGTERM);
    for (auto pid : connectors) ::kill(pid, SIGTERM);
    for (auto& [role, pid] : pids) ::waitpid(pid, nullptr, 0);
    for (auto pid : connectors) ::waitpid(pid, nullptr, 0);
    CHECK(ledger_double_executions(run.dir) == 0);
}

TEST_CASE("stores with a retention of seconds: an expired payment_id is accepted again, the stores drop it") {
    auto run = make_run("st-ttl");
    Config cfg = run.cfg;
    cfg.state.retention_ms = 3000;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    const auto expired = [](const char* role, const char* store) {
        return metric_value("turnout_store_expired_total", {{"role", role}, {"store", store}});
    };
    const double before_state = expired("state", "state");
    const double before_ledger = expired("router", "ledger");
    SwitchThread sw(cfg, vault);
    auto p = producer_for(cfg);
    const auto x = sale(run.id + "-X");
    send_request(p, cfg, x);
    flush(p);
    REQUIRE(outcomes(await_results(cfg, {x.payment_id}), x.payment_id) == "approved");
    // Sent again within the retention: a duplicate.
    send_request(p, cfg, x);
    flush(p);
    REQUIRE(outcomes(await_results(cfg, {x.payment_id}, 2), x.payment_id) == "approved duplicate_request");

    // Past the retention, the expiry ticks remove it from every store, with tombstones in the
    // compacted changelogs.
    const int32_t part = partition_for_key(x.payment_id, cfg.kafka.partitions);
    auto tombstoned = [&](const std::string& topic) {
        for (const auto& rec : read_all(cfg, {topic}))
            if (rec.key == x.payment_id && rec.value.empty() && rec.partition == part) return true;
        return false;
    };
    for (const int64_t until = now_ms() + 30000; now_ms() < until; std::this_thread::sleep_for(std::chrono::milliseconds(500)))
        if (tombstoned(cfg.kafka.topics.state) && tombstoned(cfg.kafka.topics.lifecycle)) break;
    CHECK(tombstoned(cfg.kafka.topics.state));
    CHECK(tombstoned(cfg.kafka.topics.lifecycle));
    CHECK(expired("state", "state") > before_state);
    CHECK(expired("router", "ledger") > before_ledger);

    // The expired payment_id is a new payment again.
    send_request(p, cfg, x);
    flush(p);
    CHECK(outcomes(await_results(cfg, {x.payment_id}, 3), x.payment_id) == "approved approved duplicate_request");
    CHECK(sw.stop() == 0);

    // The stores hold nothing of it.
    kafka::PartitionStore st({"state", cfg.kafka.topics.state, 0, true, {}}, part,
                             kafka::role_state_dir(cfg, "state", "0") / "state" / std::to_string(part), nullptr);
    // Its second life is within the retention yet, or already expired too: never the first.
    if (auto v = st.get_committed(x.payment_id)) {
        auto lc = decode_life_cycle(*v);
        REQUIRE(lc);
        CHECK(lc->history.size() == 1);
    }
}
