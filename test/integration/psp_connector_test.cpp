// The http_json connector against a real `turnout-sim psp` process and the real broker, one
// test per fault mode of the simulator: every payment ends with exactly one result, and the
// status queries / webhooks the mode calls for happened (and forged or replayed webhooks
// were refused and counted).
#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <map>
#include <thread>

#include <boost/asio.hpp>

#include "app/roles.hpp"
#include "codec/messages.hpp"
#include "harness.hpp"
#include "kafka/records.hpp"
#include "metrics/metrics.hpp"
#include "security/card_vault.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

constexpr int kSimPort = 9311;      // turnout-sim psp (HTTPS)
constexpr int kWebhookPort = 9312;  // the connector's webhook listener

// The shipped config, isolated, with psp-global pointing at this test's simulator, short
// timeouts and pending deadlines, and acq-eu (played by the in-process simulator) behind it.
std::string psp_yaml(const std::string& run, const fs::path& dir) {
    std::string yaml = read_file(kSource + "/config/turnout.yaml");
    replace_once(yaml, "kafka:\n", "kafka:\n  name_prefix: " + run + ".\n");
    replace_once(yaml, "keys_file: config/dev-keys.yaml", "keys_file: " + kSource + "/config/dev-keys.yaml");
    replace_once(yaml, "port: 9464", "port: 0");
    // The channel behind the PSP in the plans is played in process.
    replace_channel(yaml, "acq-eu", "kind: simulator\n    latency_ms: 2\n");
    replace_once(yaml, "endpoint: https://127.0.0.1:9603", "endpoint: https://127.0.0.1:" + std::to_string(kSimPort));
    replace_once(yaml, "ca_file: var/psp-certs/ca.pem", "ca_file: " + (dir / "certs" / "ca.pem").string());
    replace_once(yaml, "keys_file: config/dev-psp-keys.yaml", "keys_file: " + kSource + "/config/dev-psp-keys.yaml");
    replace_once(yaml, "timeout_ms: 2000                            # no answer", "timeout_ms: 800  # no answer");
    replace_once(yaml, "listen: 127.0.0.1:9604", "listen: 127.0.0.1:" + std::to_string(kWebhookPort));
    replace_once(yaml, "pending: { query_after_seconds: 30, query_every_seconds: 10, give_up_after_seconds: 600 }",
                 "pending: { query_after_seconds: 3, query_every_seconds: 1, give_up_after_seconds: 8 }");
    return yaml;
}

double counter(prometheus::Family<prometheus::Counter>& f, const std::map<std::string, std::string>& labels) {
    return f.Add(labels).Value();
}

struct Sim {
    pid_t pid = -1;
    fs::path log;
    Sim() = default;
    Sim(Sim&& o) noexcept : pid(std::exchange(o.pid, -1)), log(std::move(o.log)) {}
    Sim& operator=(Sim&& o) noexcept {
        stop();
        pid = std::exchange(o.pid, -1);
        log = std::move(o.log);
        return *this;
    }
    ~Sim() { stop(); }
    void stop() {
        if (pid <= 0) return;
        ::kill(pid, SIGTERM);
        int st = 0;
        ::waitpid(pid, &st, 0);
        pid = -1;
    }
    // The totals line the simulator logs on exit: name → value.
    std::map<std::string, int64_t> totals() const {
        std::map<std::string, int64_t> out;
        const auto text = read_file(log);
        const auto pos = text.rfind("psp-sim totals:");
        if (pos == std::string::npos) return out;
        std::istringstream in(text.substr(pos + 15, text.find('\n', pos) - pos - 15));
        for (std::string kv; in >> kv;)
            if (auto eq = kv.find('='); eq != std::string::npos) out[kv.substr(0, eq)] = std::stoll(kv.substr(eq + 1));
        return out;
    }
};

bool accepts(int port) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    return !ec;
}

Sim start_sim(const fs::path& config, const fs::path& dir, const std::vector<std::string>& faults) {
    Sim sim;
    sim.log = dir / "sim.log";
    std::vector<std::string> argv{TURNOUT_SIM_BINARY, "psp", "--config", config.string(), "--channel", "psp-global",
                                  "--ledger", (dir / "psp-ledger.log").string()};
    for (const auto& f : faults) argv.insert(argv.end(), {"--fault", f});
    sim.pid = ::fork();
    if (sim.pid == 0) {
        const int fd = ::open(sim.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    for (int i = 0; i < 300 && !accepts(kSimPort); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE_MESSAGE(accepts(kSimPort), "turnout-sim psp did not start; see " << sim.log);
    return sim;
}

struct Payment {
    std::string id;
    int64_t amount;
    InstrumentKind kind;
};

RoutedPayment routed(const Payment& p) {
    RoutedPayment r;
    r.request.payment_id = p.id;
    r.request.type = PaymentType::sale;
    r.request.merchant.id = "m-1";
    r.request.amount = {p.amount, "EUR"};
    Instrument in;
    in.kind = p.kind;
    if (p.kind == InstrumentKind::wallet) in.token = "wal-" + p.id, in.provider = "paywallet";
    else in.fingerprint = "fp-" + p.id, in.bin = "411111", in.last4 = "1111";
    r.request.instrument = in;
    r.request.created_at_ms = now_ms();
    r.route.rule = "test";
    r.route.channels = {"psp-global", "acq-eu"};
    r.risk = RiskAssessment{};
    r.times.created_at = r.request.created_at_ms;
    return r;
}

struct Outcome {
    std::map<std::string, int> results_per_id;
    std::map<std::string, PaymentResult> result_of;
    Sim sim;
    std::map<std::string, int64_t> totals;
};

// Runs `payments` through the psp-global and acq-eu connectors (in this process) against a
// simulator with `faults`; waits for one result each and `settle_ms` more for late doubles.
Outcome run_case(const std::string& name, const std::vector<std::string>& faults, const std::vector<Payment>& payments,
                 int settle_ms = 2000) {
    const std::string run = "psp-" + name + "-" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const auto yaml = psp_yaml(run, dir);
    { std::ofstream(dir / "turnout.yaml") << yaml; }
    auto cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);

    Outcome out;
    out.sim = start_sim(dir / "turnout.yaml", dir, faults);
    const CardVault vault(load_vault_keys(cfg.keys_file));
    std::atomic<bool> stop{false};
    int rc = -1;
    std::thread roles([&] { rc = run_roles(cfg, vault, {{"connector", "psp-global"}, {"connector", "acq-eu"}}, "0", stop); });
    struct StopRoles {
        std::atomic<bool>& stop;
        std::thread& t;
        ~StopRoles() {
            stop = true;
            if (t.joinable()) t.join();
        }
    } guard{stop, roles};

    auto producer = kafka::make_producer(cfg.kafka, {{"enable.idempotence", "true"}});
    for (const auto& p : payments) {
        const auto r = routed(p);
        REQUIRE(kafka::produce(producer.get(), {cfg.kafka.topics.channel("psp-global"), r.request.root_id(), encode_routed(r),
                                                kafka::descend_headers(std::string_view{})}) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);

    auto collect = [&] {
        out.results_per_id.clear();
        for (const auto& r : read_all(cfg, {cfg.kafka.topics.results})) {
            auto res = decode_result(r.value);
            REQUIRE(res);
            ++out.results_per_id[res->payment_id];
            out.result_of[res->payment_id] = *res;
        }
    };
    const int64_t deadline = now_ms() + 60'000;
    for (;;) {
        collect();
        if (out.results_per_id.size() >= payments.size() || now_ms() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
    collect();
    stop = true;
    roles.join();
    CHECK_MESSAGE(rc == 0, "the connectors drained cleanly");
    out.sim.stop();
    out.totals = out.sim.totals();
    std::cout << "psp fault case " << name << ": results " << out.results_per_id.size() << "/" << payments.size()
              << "; simulator:";
    for (const auto& [k, v] : out.totals) std::cout << " " << k << "=" << v;
    std::cout << "\n";
    // Exactly one result per payment, whatever the fault.
    CHECK(out.results_per_id.size() == payments.size());
    for (const auto& p : payments) CHECK_MESSAGE(out.results_per_id[p.id] == 1, p.id);
    return out;
}

std::vector<Payment> cards(const std::string& prefix, int n, int64_t amount = 1000) {
    std::vector<Payment> v;
    for (int i = 0; i < n; ++i) v.push_back({prefix + std::to_string(i), amount + 100 * i, InstrumentKind::card});
    return v;
}

std::vector<Payment> wallets(const std::string& prefix, int n, int64_t amount = 2000) {
    std::vector<Payment> v;
    for (int i = 0; i < n; ++i) v.push_back({prefix + std::to_string(i), amount + 100 * i, InstrumentKind::wallet});
    return v;
}

std::string status(const Outcome& o, const std::string& id) { return std::string(to_string(o.result_of.at(id).status)); }

auto& M() { return Metrics::get(); }
const std::map<std::string, std::string> kPsp{{"channel", "psp-global"}};
std::map<std::string, std::string> psp(const char* outcome) { return {{"channel", "psp-global"}, {"outcome", outcome}}; }

}  // namespace

TEST_CASE("psp: no fault: approved, declined by amount, 503 fails over, wallets resolved by webhook") {
    std::vector<Payment> ps{{"ok-1", 1000, InstrumentKind::card},   {"dec51-1", 1051, InstrumentKind::card},
                            {"dec05-1", 1005, InstrumentKind::card}, {"err91-1", 1091, InstrumentKind::card},
                            {"async93-1", 1093, InstrumentKind::card}};
    for (auto& w : wallets("wal-", 5)) ps.push_back(w);
    const double accepted = counter(M().webhooks, psp("accepted"));
    auto o = run_case("none", {}, ps);
    CHECK(status(o, "ok-1") == "approved");
    CHECK(o.result_of.at("ok-1").channel == "psp-global");
    CHECK(o.result_of.at("ok-1").channel_ref.rfind("psp_", 0) == 0);
    CHECK(status(o, "dec51-1") == "declined");
    CHECK(o.result_of.at("dec51-1").reason.code == "insufficient_funds");
    CHECK(o.result_of.at("dec05-1").reason.code == "do_not_honor");
    // 503 before execution: soft failure, the simulator channel behind it decides (91 soft there too).
    CHECK(status(o, "err91-1") == "failed");
    CHECK(o.result_of.at("err91-1").reason.code == "channels_exhausted");
    CHECK(status(o, "async93-1") == "approved");
    for (int i = 0; i < 5; ++i) CHECK(status(o, "wal-" + std::to_string(i)) == "approved");
    CHECK(counter(M().webhooks, psp("accepted")) - accepted == 6);
    CHECK(o.totals["webhooks_acked"] == 6);
}

TEST_CASE("psp fault latency_ms: slow answers inside the timeout are ordinary answers") {
    const double queried = counter(M().channel_calls, psp("unknown_queried"));
    auto o = run_case("latency", {"latency_ms=300"}, cards("lat-", 20));
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    CHECK(counter(M().channel_calls, psp("unknown_queried")) - queried == 0);
}

TEST_CASE("psp fault timeout: executed but never answered, the connector queries and answers from the PSP") {
    const double queried = counter(M().channel_calls, psp("unknown_queried"));
    auto ps = cards("to-", 10);
    ps.push_back({"to-dec", 1051, InstrumentKind::card});
    auto o = run_case("timeout", {"timeout=1"}, ps);
    for (int i = 0; i < 10; ++i) CHECK(status(o, "to-" + std::to_string(i)) == "approved");
    CHECK(status(o, "to-dec") == "declined");
    CHECK(counter(M().channel_calls, psp("unknown_queried")) - queried == 11);
    CHECK(o.totals["timeouts"] == 11);
    CHECK(o.totals["queries"] == 11);
}

TEST_CASE("psp fault timeout + query_timeout: still unknown after the query, the result is failed") {
    auto o = run_case("unknown", {"timeout=1", "query_timeout=1"}, cards("unk-", 5));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "failed");
        CHECK(r.reason.code == "unknown_outcome");
        CHECK(r.channel == "psp-global");  // never moved to another channel
    }
}

TEST_CASE("psp fault drop: connection dropped before execution, the PSP has no record, the next channel pays") {
    auto o = run_case("drop", {"drop=1"}, cards("drop-", 10));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "approved");
        CHECK(r.channel == "acq-eu");
        REQUIRE(r.route);
        REQUIRE(r.route->attempts.size() == 2);
        CHECK(r.route->attempts[0].reason == "not_received");
    }
    CHECK(o.totals["drops"] >= 10);
    CHECK(o.totals["queries"] == 10);
}

TEST_CASE("psp fault decline: every payment declined by the PSP") {
    auto o = run_case("decline", {"decline=1"}, cards("dn-", 10));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "declined");
        CHECK(r.reason.code == "do_not_honor");
    }
}

TEST_CASE("psp fault error: HTTP 503 is a soft failure, the next channel pays") {
    auto o = run_case("error", {"error=1"}, cards("e5-", 10));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "approved");
        CHECK(r.channel == "acq-eu");
        REQUIRE(r.route);
        CHECK(r.route->attempts[0].reason == "http_503");
    }
    CHECK(o.totals["errors"] == 10);
}

TEST_CASE("psp fault webhook_delay_ms: late webhooks; the status query after the deadline or the webhook, once") {
    const double resolved_q = counter(M().status_queries, psp("resolved"));
    const double resolved_e = counter(M().channel_events, psp("resolved"));
    const double dup = counter(M().channel_events, psp("duplicate"));
    auto o = run_case("late", {"webhook_delay_ms=5000"}, wallets("late-", 8), 4000);
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    const double by_query = counter(M().status_queries, psp("resolved")) - resolved_q;
    const double by_event = counter(M().channel_events, psp("resolved")) - resolved_e;
    CHECK(by_query + by_event == 8);
    CHECK(by_query >= 1);  // the deadline (3 s) comes before the webhook (5 s)
    // Each late webhook was still acknowledged, and ignored when the payment was already final.
    CHECK(counter(M().channel_events, psp("duplicate")) - dup == by_query);
    CHECK(o.totals["webhooks_acked"] == 8);
}

TEST_CASE("psp fault webhook_duplicates + webhook_replay: redeliveries ignored, byte-for-byte replays refused") {
    const double dup = counter(M().channel_events, psp("duplicate"));
    const double replayed = counter(M().webhooks, psp("replayed"));
    const double accepted = counter(M().webhooks, psp("accepted"));
    auto o = run_case("dupes", {"webhook_duplicates=2", "webhook_replay=1"}, wallets("dup-", 8));
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    CHECK(counter(M().webhooks, psp("accepted")) - accepted == 24);
    CHECK(counter(M().webhooks, psp("replayed")) - replayed == 8);
    CHECK(counter(M().channel_events, psp("duplicate")) - dup == 16);
}

TEST_CASE("psp fault bad_signature: forged webhooks are refused and counted, the genuine outcome stands") {
    const double bad = counter(M().webhooks, psp("bad_signature"));
    auto ps = wallets("bs-", 6);
    ps.push_back({"bs-dec", 2051, InstrumentKind::wallet});
    auto o = run_case("badsig", {"bad_signature=1"}, ps);
    for (int i = 0; i < 6; ++i) CHECK(status(o, "bs-" + std::to_string(i)) == "approved");
    CHECK(status(o, "bs-dec") == "declined");  // the forgery claimed approved
    CHECK(counter(M().webhooks, psp("bad_signature")) - bad == 7);
    CHECK(o.totals["forged_sent"] == 7);
}

TEST_CASE("psp fault no_webhook: pending payments resolved by a status query after the deadline") {
    const double resolved_q = counter(M().status_queries, psp("resolved"));
    auto o = run_case("nohook", {"no_webhook=1"}, wallets("nh-", 8));
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    CHECK(counter(M().status_queries, psp("resolved")) - resolved_q == 8);
    CHECK(o.totals["webhooks_sent"] == 0);
}

TEST_CASE("psp fault no_webhook + query_timeout: a pending payment nobody resolves ends failed after give-up") {
    auto o = run_case("expire", {"no_webhook=1", "query_timeout=1"}, wallets("ex-", 3), 1000);
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "failed");
        CHECK(r.reason.code == "pending_expired");
    }
}

TEST_CASE("psp pending across a restart: payments.pending is replayed and each payment still gets one result") {
    const std::string run = "psp-restart-" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    auto yaml = psp_yaml(run, dir);
    // Long enough that no status query happens before the restart.
    replace_once(yaml, "query_after_seconds: 3,", "query_after_seconds: 4,");
    { std::ofstream(dir / "turnout.yaml") << yaml; }
    auto cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);
    auto sim = start_sim(dir / "turnout.yaml", dir, {"no_webhook=1"});
    const CardVault vault(load_vault_keys(cfg.keys_file));
    const auto ps = wallets("rs-", 6);

    auto run_connectors = [&](const std::function<void()>& while_running) {
        std::atomic<bool> stop{false};
        int rc = -1;
        std::thread roles([&] { rc = run_roles(cfg, vault, {{"connector", "psp-global"}, {"connector", "acq-eu"}}, "0", stop); });
        while_running();
        stop = true;
        roles.join();
        CHECK(rc == 0);
    };
    // First life: every payment goes pending (no webhook will come), then the connector stops.
    run_connectors([&] {
        auto producer = kafka::make_producer(cfg.kafka, {{"enable.idempotence", "true"}});
        for (const auto& p : ps) {
            const auto r = routed(p);
            REQUIRE(kafka::produce(producer.get(), {cfg.kafka.topics.channel("psp-global"), r.request.root_id(),
                                                    encode_routed(r), kafka::descend_headers(std::string_view{})}) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        REQUIRE(rd_kafka_flush(producer.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int i = 0; i < 100 && read_all(cfg, {cfg.kafka.topics.pending}).size() < ps.size(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    });
    CHECK(read_all(cfg, {cfg.kafka.topics.pending}).size() == ps.size());
    CHECK(read_all(cfg, {cfg.kafka.topics.results}).empty());

    // Second life: the pending payments come back from payments.pending and are resolved by
    // status queries; the pending records are tombstoned in the same transactions.
    std::map<std::string, int> results;
    run_connectors([&] {
        for (int i = 0; i < 60; ++i) {
            results.clear();
            for (const auto& r : read_all(cfg, {cfg.kafka.topics.results})) ++results[decode_result(r.value)->payment_id];
            if (results.size() >= ps.size()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    });
    results.clear();
    for (const auto& r : read_all(cfg, {cfg.kafka.topics.results})) {
        auto res = decode_result(r.value);
        ++results[res->payment_id];
        CHECK(res->status == ResultStatus::approved);
    }
    CHECK(results.size() == ps.size());
    for (const auto& [id, n] : results) CHECK_MESSAGE(n == 1, id);
    int tombstones = 0;
    for (const auto& r : read_all(cfg, {cfg.kafka.topics.pending})) tombstones += r.value.empty();
    CHECK(tombstones == static_cast<int>(ps.size()));
    sim.stop();
    CHECK(sim.totals()["queries"] == static_cast<int64_t>(ps.size()));
}
