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

#include <boost/beast/core.hpp>
#include <boost/json.hpp>
#include <boost/beast/http.hpp>
#include <yaml-cpp/yaml.h>

#include "app/roles.hpp"
#include "codec/messages.hpp"
#include "harness.hpp"
#include "http_json/psp_protocol.hpp"
#include "http_json/signature.hpp"
#include "pending_book.hpp"
#include "kafka/records.hpp"
#include "../metric_checks.hpp"
#include "security/card_vault.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

// turnout-sim psp (HTTPS), one above the connector's webhook listener and two above a
// test's gate in front of it (WebhookGate); TURNOUT_PSP_TEST_PORT moves all three (two test
// runs on one host).
int psp_test_port() {
    const char* p = std::getenv("TURNOUT_PSP_TEST_PORT");
    return p && *p ? std::atoi(p) : 9311;
}
const int kSimPort = psp_test_port();
const int kWebhookPort = kSimPort + 1;

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

double counter(const char* family, const std::map<std::string, std::string>& labels) {
    return metric_value(family, labels);
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
    size_t next_channel_records = 0;        // records on payments.channel.acq-eu
    std::vector<Consumed> dlq;              // payments.dlq
    std::map<std::string, std::string> psp_status;  // the simulator's ledger: payment_id → last status
};

std::string webhook_key() {
    const auto keys = YAML::LoadFile(kSource + "/config/dev-psp-keys.yaml");
    return turnout::psp::from_hex(keys["channels"]["psp-global"]["webhook_hmac_key_hex"].as<std::string>());
}

// POSTs a webhook to the connector's listener; the HTTP status.
unsigned post_webhook(const std::string& body, const std::string& ts, const std::string& sig) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    boost::asio::io_context ioc;
    beast::tcp_stream s(ioc);
    boost::system::error_code ec;
    s.socket().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(kWebhookPort)}, ec);
    if (ec) return 0;
    http::request<http::string_body> req{http::verb::post, "/webhooks/psp-global", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.set(turnout::psp::kTimestampHeader, ts);
    req.set(turnout::psp::kSignatureHeader, sig);
    req.body() = body;
    req.prepare_payload();
    http::write(s, req, ec);
    if (ec) return 0;
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res, ec);
    return ec ? 0 : res.result_int();
}

// Stands between the PSP simulator (its callback_url) and the connector's webhook listener:
// nothing listens before open(), so the simulator's deliveries fail and it tries again
// (its backoff: 0.2 s, 0.4 s, ... up to 2 s); after open(), each webhook is handed on
// unchanged and answered with the listener's HTTP status.
class WebhookGate {
public:
    static int port() { return kSimPort + 2; }
    ~WebhookGate() {
        ioc_.stop();
        if (thread_.joinable()) thread_.join();
    }
    void open() {
        namespace asio = boost::asio;
        acceptor_.open(asio::ip::tcp::v4());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port())});
        acceptor_.listen();
        accept();
        thread_ = std::thread([this] { ioc_.run(); });
    }

private:
    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
            if (ec) return;
            relay(s);
            accept();
        });
    }
    static void relay(boost::asio::ip::tcp::socket& s) {
        namespace beast = boost::beast;
        namespace http = beast::http;
        beast::flat_buffer buf;
        http::request<http::string_body> req;
        boost::system::error_code ec;
        http::read(s, buf, req, ec);
        if (ec) return;
        const unsigned st = post_webhook(req.body(), std::string(req[turnout::psp::kTimestampHeader]),
                                         std::string(req[turnout::psp::kSignatureHeader]));
        http::response<http::string_body> res{st ? static_cast<http::status>(st) : http::status::bad_gateway, 11};
        res.set(http::field::connection, "close");
        res.prepare_payload();
        http::write(s, res, ec);
    }

    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::acceptor acceptor_{ioc_};
    std::thread thread_;
};

// Waits (60 s at most) until `ready` holds; returns whether it did.
bool wait_until(const std::function<bool()>& ready, int poll_ms = 100) {
    for (const int64_t until = now_ms() + 60000; now_ms() < until; std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms)))
        if (ready()) return true;
    return ready();
}

struct CaseOptions {
    int settle_ms = 2000;                       // after the results (and `settled`): late doubles
    std::function<void(const Config&)> during;  // once the payments are produced, while the connectors run
    std::function<bool()> settled;              // waited for (60 s at most) once every payment has a result
    std::function<void(std::string&)> edit;     // changes to the config text
};

// Runs `payments` through the psp-global and acq-eu connectors (in this process) against a
// simulator with `faults`; waits for one result each, for `settled`, and `settle_ms` more for
// late doubles.
Outcome run_case(const std::string& name, const std::vector<std::string>& faults, const std::vector<Payment>& payments,
                 const CaseOptions& opts = {}) {
    const std::string run = "psp-" + name + "-" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    auto yaml = psp_yaml(run, dir);
    if (opts.edit) opts.edit(yaml);
    { std::ofstream(dir / "turnout.yaml") << yaml; }
    auto cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);

    Outcome out;
    out.sim = start_sim(dir / "turnout.yaml", dir, faults);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
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

    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
    for (const auto& p : payments) {
        const auto r = routed(p);
        REQUIRE(producer.produce({cfg.kafka.topics.channel("psp-global"), r.request.root_id(), encode_routed(r),
                                                kafka::descend_headers(std::string_view{})}));
    }
    producer.flush(10000);
    REQUIRE(producer.queued() == 0);
    if (opts.during) opts.during(cfg);

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
    if (opts.settled) CHECK_MESSAGE(wait_until(opts.settled), "what the case waits for after the results happened");
    std::this_thread::sleep_for(std::chrono::milliseconds(opts.settle_ms));
    collect();
    stop = true;
    roles.join();
    CHECK_MESSAGE(rc == 0, "the connectors drained cleanly");
    out.sim.stop();
    out.totals = out.sim.totals();
    out.next_channel_records = read_all(cfg, {cfg.kafka.topics.channel("acq-eu")}).size();
    out.dlq = read_all(cfg, {cfg.kafka.topics.dlq});
    {
        std::ifstream ledger(dir / "psp-ledger.log");
        for (std::string line; std::getline(ledger, line);) {
            std::istringstream in(line);
            std::string id, root, st;
            if (in >> id >> root >> st) out.psp_status[id] = st;
        }
    }
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

const std::map<std::string, std::string> kPsp{{"channel", "psp-global"}};
std::map<std::string, std::string> on_psp(const char* outcome) { return {{"channel", "psp-global"}, {"outcome", outcome}}; }

}  // namespace

TEST_CASE("psp: no fault: approved, declined by amount, 503 is an unknown outcome, wallets resolved by webhook") {
    std::vector<Payment> ps{{"ok-1", 1000, InstrumentKind::card},   {"dec51-1", 1051, InstrumentKind::card},
                            {"dec05-1", 1005, InstrumentKind::card}, {"err91-1", 1091, InstrumentKind::card},
                            {"async93-1", 1093, InstrumentKind::card}};
    for (auto& w : wallets("wal-", 5)) ps.push_back(w);
    const double accepted = counter("turnout_webhooks_total", on_psp("accepted"));
    auto o = run_case("none", {}, ps);
    CHECK(status(o, "ok-1") == "approved");
    CHECK(o.result_of.at("ok-1").channel == "psp-global");
    CHECK(o.result_of.at("ok-1").channel_ref.rfind("psp_", 0) == 0);
    CHECK(status(o, "dec51-1") == "declined");
    CHECK(o.result_of.at("dec51-1").reason.code == "insufficient_funds");
    CHECK(o.result_of.at("dec05-1").reason.code == "do_not_honor");
    // A 503 does not prove the PSP did not execute it: unknown, asked, never sent elsewhere.
    CHECK(status(o, "err91-1") == "failed");
    CHECK(o.result_of.at("err91-1").reason.code == "unknown_outcome");
    CHECK(o.result_of.at("err91-1").channel == "psp-global");
    CHECK(o.next_channel_records == 0);
    CHECK(status(o, "async93-1") == "approved");
    for (int i = 0; i < 5; ++i) CHECK(status(o, "wal-" + std::to_string(i)) == "approved");
    CHECK(counter("turnout_webhooks_total", on_psp("accepted")) - accepted == 6);
    CHECK(o.totals["webhooks_acked"] == 6);
}

TEST_CASE("psp fault latency_ms: slow answers inside the timeout are ordinary answers") {
    const double queried = counter("turnout_channel_calls_total", on_psp("unknown_queried"));
    // The shipped timeout (2 s), well above the 300 ms, so that a loaded machine cannot turn a
    // slow answer into a timeout.
    auto o = run_case("latency", {"latency_ms=300"}, cards("lat-", 20),
                      {.edit = [](std::string& y) { replace_once(y, "timeout_ms: 800  #", "timeout_ms: 2000  #"); }});
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    CHECK(counter("turnout_channel_calls_total", on_psp("unknown_queried")) - queried == 0);
}

TEST_CASE("psp fault timeout: executed but never answered, the connector queries and answers from the PSP") {
    const double queried = counter("turnout_channel_calls_total", on_psp("unknown_queried"));
    auto ps = cards("to-", 10);
    ps.push_back({"to-dec", 1051, InstrumentKind::card});
    auto o = run_case("timeout", {"timeout=1"}, ps);
    for (int i = 0; i < 10; ++i) CHECK(status(o, "to-" + std::to_string(i)) == "approved");
    CHECK(status(o, "to-dec") == "declined");
    CHECK(counter("turnout_channel_calls_total", on_psp("unknown_queried")) - queried == 11);
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

TEST_CASE("psp fault drop: connection dropped after the request left: unknown outcome, never another channel") {
    auto o = run_case("drop", {"drop=1"}, cards("drop-", 10));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "failed");
        CHECK(r.reason.code == "unknown_outcome");
        CHECK(r.channel == "psp-global");
        REQUIRE(r.route);
        CHECK(r.route->attempts.size() == 1);
    }
    CHECK(o.totals["drops"] >= 10);
    CHECK(o.totals["queries"] == 10);
    CHECK(o.next_channel_records == 0);
}

TEST_CASE("psp fault decline: every payment declined by the PSP") {
    auto o = run_case("decline", {"decline=1"}, cards("dn-", 10));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "declined");
        CHECK(r.reason.code == "do_not_honor");
    }
}

TEST_CASE("psp fault error: HTTP 503 is an unknown outcome, asked by status query, never another channel") {
    auto o = run_case("error", {"error=1"}, cards("e5-", 10));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "failed");
        CHECK(r.reason.code == "unknown_outcome");
        CHECK(r.channel == "psp-global");
    }
    CHECK(o.totals["errors"] == 10);
    CHECK(o.totals["queries"] == 10);
    CHECK(o.next_channel_records == 0);
}

TEST_CASE("psp fault reply_status: 502/504/409/429 after the PSP executed: no second channel, failed/unknown_outcome") {
    for (const char* code : {"502", "504", "409", "429"}) {
        CAPTURE(code);
        auto o = run_case(std::string("reply") + code, {std::string("reply_status=") + code, "query_timeout=1"},
                          cards(std::string("rs") + code + "-", 5));
        for (const auto& [id, r] : o.result_of) {
            CHECK(status(o, id) == "failed");
            CHECK(r.reason.code == "unknown_outcome");
            CHECK(r.channel == "psp-global");
            CHECK(o.psp_status[id] == "approved");  // the PSP did charge it
        }
        CHECK(o.totals["replied_status"] >= 5);
        CHECK(o.next_channel_records == 0);  // acq-eu never saw any of them
    }
}

TEST_CASE("psp fault reply_status: a 502 after execution is resolved by the status query on the same channel") {
    auto o = run_case("reply502q", {"reply_status=502"}, cards("rq-", 5));
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "approved");
        CHECK(r.channel == "psp-global");
    }
    CHECK(o.totals["queries"] == 5);
    CHECK(o.next_channel_records == 0);
}

TEST_CASE("psp fault reply_status: 429 / 409 once, then the same request again on the same channel is answered") {
    for (const char* code : {"429", "409"}) {
        CAPTURE(code);
        auto o = run_case(std::string("busy") + code, {std::string("reply_status=") + code, "reply_status_times=1"},
                          cards(std::string("b") + code + "-", 5));
        for (const auto& [id, r] : o.result_of) {
            CHECK(status(o, id) == "approved");
            CHECK(r.channel == "psp-global");
        }
        CHECK(o.totals["requests"] == 10);  // each sent twice, same Idempotency-Key
        CHECK(o.totals["queries"] == 0);
        CHECK(o.next_channel_records == 0);
    }
}

TEST_CASE("psp fault webhook_delay_ms: late webhooks; the status query after the deadline or the webhook, once") {
    const double resolved_q = counter("turnout_status_queries_total", on_psp("resolved"));
    const double resolved_e = counter("turnout_channel_events_total", on_psp("resolved"));
    const double dup = counter("turnout_channel_events_total", on_psp("duplicate"));
    // The simulator decides a wallet payment when it sends its webhook (5 s), after the query
    // deadline (3 s, then every second); the webhooks reach the connector only once a status
    // query has found a payment decided, so that a query, not only a webhook, resolves one.
    WebhookGate gate;
    CaseOptions opts;
    opts.edit = [](std::string& y) {
        const std::string listen = "listen: 127.0.0.1:" + std::to_string(kWebhookPort);
        replace_once(y, listen, listen + ", callback_url: 'http://127.0.0.1:" + std::to_string(WebhookGate::port()) +
                                    "/webhooks/psp-global'");
    };
    opts.during = [&](const Config&) {
        CHECK(wait_until([&] { return counter("turnout_status_queries_total", on_psp("resolved")) - resolved_q >= 1; }, 20));
        gate.open();
    };
    // Settled once every webhook has come and was taken as an event (resolving or duplicate).
    opts.settled = [&] {
        return counter("turnout_channel_events_total", on_psp("resolved")) - resolved_e +
                   counter("turnout_channel_events_total", on_psp("duplicate")) - dup >= 8;
    };
    auto o = run_case("late", {"webhook_delay_ms=5000"}, wallets("late-", 8), opts);
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    const double by_query = counter("turnout_status_queries_total", on_psp("resolved")) - resolved_q;
    const double by_event = counter("turnout_channel_events_total", on_psp("resolved")) - resolved_e;
    MESSAGE("late webhooks: 8 payments resolved by status query " << by_query << ", by webhook " << by_event);
    CHECK(by_query + by_event == 8);
    CHECK(by_query >= 1);
    // Each late webhook was still acknowledged, and ignored when the payment was already final.
    CHECK(counter("turnout_channel_events_total", on_psp("duplicate")) - dup == by_query);
    CHECK(o.totals["webhooks_acked"] == 8);
}

TEST_CASE("psp fault webhook_duplicates + webhook_replay: redeliveries ignored, byte-for-byte replays refused") {
    const double dup = counter("turnout_channel_events_total", on_psp("duplicate"));
    const double replayed = counter("turnout_webhooks_total", on_psp("replayed"));
    const double accepted = counter("turnout_webhooks_total", on_psp("accepted"));
    auto o = run_case("dupes", {"webhook_duplicates=2", "webhook_replay=1"}, wallets("dup-", 8), {.settled = [&] {
                          return counter("turnout_webhooks_total", on_psp("accepted")) - accepted >= 24 &&
                                 counter("turnout_webhooks_total", on_psp("replayed")) - replayed >= 8 &&
                                 counter("turnout_channel_events_total", on_psp("duplicate")) - dup >= 16;
                      }});
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    CHECK(counter("turnout_webhooks_total", on_psp("accepted")) - accepted == 24);
    CHECK(counter("turnout_webhooks_total", on_psp("replayed")) - replayed == 8);
    CHECK(counter("turnout_channel_events_total", on_psp("duplicate")) - dup == 16);
}

TEST_CASE("psp fault bad_signature: forged webhooks are refused and counted, the genuine outcome stands") {
    const double bad = counter("turnout_webhooks_total", on_psp("bad_signature"));
    auto ps = wallets("bs-", 6);
    ps.push_back({"bs-dec", 2051, InstrumentKind::wallet});
    auto o = run_case("badsig", {"bad_signature=1"}, ps,
                      {.settled = [&] { return counter("turnout_webhooks_total", on_psp("bad_signature")) - bad >= 7; }});
    for (int i = 0; i < 6; ++i) CHECK(status(o, "bs-" + std::to_string(i)) == "approved");
    CHECK(status(o, "bs-dec") == "declined");  // the forgery claimed approved
    CHECK(counter("turnout_webhooks_total", on_psp("bad_signature")) - bad == 7);
    CHECK(o.totals["forged_sent"] == 7);
}

TEST_CASE("psp fault no_webhook: pending payments resolved by a status query after the deadline") {
    const double resolved_q = counter("turnout_status_queries_total", on_psp("resolved"));
    auto o = run_case("nohook", {"no_webhook=1"}, wallets("nh-", 8));
    for (const auto& [id, r] : o.result_of) CHECK(status(o, id) == "approved");
    CHECK(counter("turnout_status_queries_total", on_psp("resolved")) - resolved_q == 8);
    CHECK(o.totals["webhooks_sent"] == 0);
}

TEST_CASE("psp fault no_webhook + query_timeout: at give-up the cancel finds the payment approved: approved result") {
    const double resolved = counter("turnout_status_queries_total", on_psp("resolved"));
    auto o = run_case("expire", {"no_webhook=1", "query_timeout=1"}, wallets("ex-", 3), {.settle_ms = 1000});
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "approved");
        CHECK(r.channel == "psp-global");
    }
    CHECK(o.totals["cancels"] == 3);
    CHECK(o.totals["cancelled"] == 0);
    CHECK(counter("turnout_status_queries_total", on_psp("resolved")) - resolved == 3);
}

TEST_CASE("psp fault stay_pending: an expired pending payment is cancelled at the PSP, then `reversed`") {
    const double cancelled = counter("turnout_status_queries_total", on_psp("cancelled"));
    auto o = run_case("cancel", {"stay_pending=1"}, wallets("cx-", 3), {.settle_ms = 1000});
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "reversed");
        CHECK(r.reason.code == "pending_cancelled");
        CHECK(r.channel == "psp-global");
        CHECK(o.psp_status[id] == "cancelled");  // the simulator's ledger shows the cancel
    }
    CHECK(o.totals["cancelled"] == 3);
    CHECK(counter("turnout_status_queries_total", on_psp("cancelled")) - cancelled == 3);
}

namespace {
std::vector<Consumed> dlq_with(const std::vector<Consumed>& dlq, const std::string& reason) {
    std::vector<Consumed> out;
    for (const auto& r : dlq)
        if (r.header("turnout.error.reason") == reason) out.push_back(r);
    return out;
}
}  // namespace

TEST_CASE("psp: given up with the outcome unknown, a late signed approval is counted and dead-lettered, not ignored") {
    const double late = counter("turnout_channel_events_total", on_psp("late"));
    const std::vector<Payment> ps = wallets("lt-", 2);
    unsigned answered = 0;
    CaseOptions opts;
    opts.during = [&](const Config& cfg) {
        // Wait for the give-up results, then the PSP reports one payment approved after all.
        CHECK(wait_until([&] { return read_all(cfg, {cfg.kafka.topics.results}).size() >= ps.size(); }, 250));
        const auto body = turnout::psp::webhook_json("evt_late_1", {"lt-0", "lt-0", "approved", "approved", "approved", "psp_late", "a1b2c3"});
        const auto ts = std::to_string(now_ms());
        answered = post_webhook(body, ts, turnout::psp::sign(webhook_key(), ts, body));
        wait_until([&] { return !dlq_with(read_all(cfg, {cfg.kafka.topics.dlq}), "late_channel_event").empty(); }, 250);
    };
    auto o = run_case("lateevent", {"stay_pending=1", "cancel_timeout=1", "query_timeout=1"}, ps, opts);
    CHECK(answered == 200);
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "failed");
        CHECK(r.reason.code == "unknown_outcome");
    }
    const auto late_records = dlq_with(o.dlq, "late_channel_event");
    REQUIRE(late_records.size() == 1);
    CHECK(late_records[0].value.find("\"lt-0\"") != std::string::npos);
    CHECK(counter("turnout_channel_events_total", on_psp("late")) - late == 1);
}

TEST_CASE("psp: a forged channel event on the channel topic does not settle a pending payment; it is dead-lettered") {
    const double unsigned_events = counter("turnout_channel_events_total", on_psp("unsigned"));
    const std::vector<Payment> ps = wallets("fg-", 2);
    std::map<std::string, int> results_while_pending;
    CaseOptions opts;
    opts.settle_ms = 1000;
    opts.during = [&](const Config& cfg) {
        REQUIRE(wait_until([&] { return read_all(cfg, {cfg.kafka.topics.pending}).size() >= ps.size(); }));
        kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
        // The record the webhook listener would write, without the PSP's signature over it.
        auto forge = [&](const std::string& id, bool with_bad_signature) {
            boost::json::object e{{"event_id", "evt_forged_" + id}, {"payment_id", id}, {"root_id", id}, {"status", "approved"},
                                  {"code", "approved"}, {"message", "approved"}, {"channel_ref", "psp_x"}, {"approval_code", "zz9"}};
            if (with_bad_signature) {
                const auto origin = turnout::psp::webhook_json("evt_forged_" + id, {id, id, "approved", "approved", "approved", "psp_x", "zz9"});
                const auto ts = std::to_string(now_ms());
                e["origin"] = origin;
                e["origin_auth"] = boost::json::object{{turnout::psp::kTimestampHeader, ts},
                                                       {turnout::psp::kSignatureHeader, turnout::psp::sign("not-the-webhook-key", ts, origin)}};
            }
            REQUIRE(producer.produce({cfg.kafka.topics.channel("psp-global"), id, boost::json::serialize(e),
                                                    {{kRecordKindHeader, kChannelEventKind}}}));
        };
        forge("fg-0", false);  // no signature at all
        forge("fg-1", true);   // signed with the wrong key
        producer.flush(10000);
    REQUIRE(producer.queued() == 0);
        // Once the connector has dead-lettered both forgeries, a result they made would be on
        // payments.results too (the same transaction).
        CHECK(wait_until([&] { return dlq_with(read_all(cfg, {cfg.kafka.topics.dlq}), "unsigned_channel_event").size() >= 2; }));
        for (const auto& r : read_all(cfg, {cfg.kafka.topics.results})) {
            const auto res = decode_result(r.value);
            // Only the give-up (8 s after the payment went pending) may have answered by now.
            if (res->status != ResultStatus::reversed) ++results_while_pending[res->payment_id];
        }
    };
    auto o = run_case("forged", {"stay_pending=1"}, ps, opts);
    CHECK(results_while_pending.empty());  // the forged approvals settled nothing
    // The payments were still pending at the PSP: at give-up they are cancelled there.
    for (const auto& [id, r] : o.result_of) {
        CHECK(status(o, id) == "reversed");
        CHECK(r.approval_code != "zz9");
    }
    CHECK(dlq_with(o.dlq, "unsigned_channel_event").size() == 2);
    CHECK(counter("turnout_channel_events_total", on_psp("unsigned")) - unsigned_events == 2);
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
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
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
        kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
        for (const auto& p : ps) {
            const auto r = routed(p);
            REQUIRE(producer.produce({cfg.kafka.topics.channel("psp-global"), r.request.root_id(),
                                                    encode_routed(r), kafka::descend_headers(std::string_view{})}));
        }
        producer.flush(10000);
    REQUIRE(producer.queued() == 0);
        wait_until([&] { return read_all(cfg, {cfg.kafka.topics.pending}).size() >= ps.size(); });
    });
    CHECK(read_all(cfg, {cfg.kafka.topics.pending}).size() == ps.size());
    CHECK(read_all(cfg, {cfg.kafka.topics.results}).empty());

    // Second life: the pending payments come back from payments.pending and are resolved by
    // status queries; the pending records are tombstoned in the same transactions.
    std::map<std::string, int> results;
    run_connectors([&] {
        wait_until([&] {
            results.clear();
            for (const auto& r : read_all(cfg, {cfg.kafka.topics.results})) ++results[decode_result(r.value)->payment_id];
            return results.size() >= ps.size();
        }, 500);
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
