// The metrics endpoint and the state role's status endpoint hold their listener limits
// against hostile clients over real sockets (docs/security.md "Listeners"): slowloris
// connections are closed at the header timeout while a normal request is answered, a flood
// over the connection cap is closed at once while a connection already open is still
// answered, an oversize body is refused 413 without being read; /metrics with basic auth
// answers 401 without the credentials, and serves over TLS. The gateway and the webhook
// listener: test/integration/listener_test.cpp.
#include <doctest/doctest.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fstream>
#include <functional>
#include <future>
#include <iostream>

#include "../../listener_checks.hpp"
#include "config/config.hpp"
#include "connector.hpp"
#include "http_json/psp_protocol.hpp"
#include "http_json/signature.hpp"
#include "metrics/metrics.hpp"
#include "metrics/metrics_server.hpp"
#include "model/time.hpp"
#include "state/status_server.hpp"

using namespace turnout;
using namespace turnout::probe;
namespace fs = std::filesystem;

namespace {

constexpr ListenerLimits kTight{4, 500, 500, 1024};

MetricsConfig metrics_config(const ListenerLimits& limits) {
    MetricsConfig c;
    c.port = 0;
    c.limits = limits;
    return c;
}

// GET over TLS (the test's own certificate); the status, 0 when no answer.
int tls_get(int port, const std::string& target) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace http = beast::http;
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);
    beast::ssl_stream<beast::tcp_stream> s(io, ctx);
    beast::error_code ec;
    beast::get_lowest_layer(s).socket().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    if (!ec) s.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return 0;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req, ec);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    if (!ec) http::read(s, buf, res, ec);
    return ec ? 0 : res.result_int();
}

}  // namespace

TEST_CASE("listener limits: slowloris, flood over the cap, oversize body, per listener") {
    MetricsServer metrics(metrics_config(kTight), Metrics::get().registry);
    StatusServer state("127.0.0.1", 0, [](std::string_view) { return StatusReply{200, "{}"}; }, kTight);
    const std::vector<Listener> listeners{{"metrics", metrics.port(), "/metrics", kTight},
                                          {"state", state.port(), "/payments/p-1", kTight}};
    for (const auto& l : listeners) {
        CAPTURE(l.name);
        check_slowloris(l);
        check_flood(l);
        check_oversize(l, "GET", l.ok_target);
    }
}

TEST_CASE("metrics config: loopback by default, every listener key parsed, unknown keys refused") {
    const std::string base = "kafka: { bootstrap_servers: x, topics: {} }\nsecurity: { keys_file: k }\nrisk: { bin_blocklist: [\"400009\"] }\n"
                             "router: { routes: [{ name: all, plan: [a] }] }\nchannels:\n  - { id: a, kind: simulator }\n";
    const auto d = parse_config(base, "t.yaml");
    CHECK(d.metrics.address == "127.0.0.1");
    CHECK(d.metrics.port == 9464);
    CHECK(d.metrics.limits.max_connections == 64);
    CHECK(d.gateway.limits.max_body_bytes == 65536);
    CHECK(d.state.http_limits.max_body_bytes == 4096);
    const auto c = parse_config(base + "metrics:\n  address: 0.0.0.0\n  port: 0\n  max_connections: 8\n  header_timeout_ms: 900\n"
                                       "  body_timeout_ms: 800\n  max_body_bytes: 100\n  tls: { cert_file: c.pem, key_file: k.pem }\n"
                                       "  basic_auth: { user: prom, password_file: p.txt }\n"
                                       "state: { max_connections: 3, header_timeout_ms: 700 }\n"
                                       "gateway: { header_timeout_ms: 600, body_timeout_ms: 650, max_body_bytes: 2048 }\n",
                                "t.yaml");
    CHECK(c.metrics.address == "0.0.0.0");
    CHECK(c.metrics.limits.max_connections == 8);
    CHECK(c.metrics.limits.header_timeout_ms == 900);
    CHECK(c.metrics.limits.body_timeout_ms == 800);
    CHECK(c.metrics.limits.max_body_bytes == 100);
    CHECK(c.metrics.tls_key_file == "k.pem");
    CHECK(c.metrics.basic_auth_user == "prom");
    CHECK(c.metrics.basic_auth_password_file == "p.txt");
    CHECK(c.state.http_limits.max_connections == 3);
    CHECK(c.state.http_limits.header_timeout_ms == 700);
    CHECK(c.gateway.limits.header_timeout_ms == 600);
    CHECK(c.gateway.limits.body_timeout_ms == 650);
    CHECK(c.gateway.limits.max_body_bytes == 2048);
    const std::vector<std::pair<std::string, std::string>> bad{
        {"metrics: { bind: 0.0.0.0 }\n", "unknown key `metrics.bind`"},
        {"metrics: { tls: { cert_file: c.pem } }\n", "needs both cert_file and key_file"},
        {"metrics: { basic_auth: { user: prom } }\n", "password_file"},
        {"metrics: { header_timeout_ms: 5 }\n", "header_timeout_ms"},
        {"gateway: { max_body_bytes: 70000 }\n", "cannot be over limits.max_record_bytes"},
    };
    for (const auto& [yaml, error] : bad) {
        CAPTURE(yaml);
        try {
            parse_config(base + yaml, "t.yaml");
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK(std::string(e.what()).find(error) != std::string::npos);
        }
    }
}

TEST_CASE("metrics basic auth: 401 without or with wrong credentials, 200 with them; the probes stay open") {
    const auto dir = scratch("auth");
    const auto pw = dir / "password";
    std::ofstream(pw) << "s3cret-scrape\n";
    fs::permissions(pw, fs::perms::owner_read | fs::perms::owner_write);
    auto cfg = metrics_config(kTight);
    cfg.basic_auth_user = "prometheus";
    cfg.basic_auth_password_file = pw.string();
    MetricsServer m(cfg, Metrics::get().registry);
    const auto none = probe::request(m.port(), "GET", "/metrics");
    const auto wrong = probe::request(m.port(), "GET", "/metrics", "Authorization: " + basic_authorization("prometheus", "guess") + "\r\n");
    const auto right = probe::request(m.port(), "GET", "/metrics", "Authorization: " + basic_authorization("prometheus", "s3cret-scrape") + "\r\n");
    const auto livez = probe::request(m.port(), "GET", "/livez");
    MESSAGE("metrics basic auth: none " << none.status << ", wrong " << wrong.status << ", right " << right.status
                                        << ", /livez without " << livez.status);
    CHECK(none.status == 401);
    CHECK(none.text.find("WWW-Authenticate: Basic realm=") != std::string::npos);
    CHECK(wrong.status == 401);
    CHECK(right.status == 200);
    CHECK(right.text.find("turnout_listener_refused_total") != std::string::npos);
    CHECK(livez.status != 401);

    // The password file is a secret: a group-readable one is refused at start.
    fs::permissions(pw, fs::perms::group_read, fs::perm_options::add);
    CHECK_THROWS_WITH_AS(MetricsServer(cfg, Metrics::get().registry), doctest::Contains("metrics.basic_auth.password_file"),
                         ConfigError);
}

TEST_CASE("metrics over TLS: the scrape is answered over TLS, plain HTTP is not") {
    const auto dir = scratch("tls");
    REQUIRE(probe::make_test_cert(dir));
    auto cfg = metrics_config(kTight);
    cfg.tls_cert_file = (dir / "cert.pem").string();
    cfg.tls_key_file = (dir / "key.pem").string();
    MetricsServer m(cfg, Metrics::get().registry);
    const int over_tls = tls_get(m.port(), "/metrics");
    const auto plain = probe::request(m.port(), "GET", "/metrics");
    MESSAGE("metrics TLS: GET over TLS " << over_tls << ", plain HTTP " << plain.status);
    CHECK(over_tls == 200);
    CHECK(plain.status != 200);
}

namespace {
int free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}
}  // namespace

TEST_CASE("webhook listener: limits per listener, and a stalled webhook does not delay channel calls") {
    const auto dir = scratch("webhook");
    REQUIRE(make_test_cert(dir));
    const auto keys = dir / "psp-keys.yaml";
    fs::copy_file(std::string(TURNOUT_SOURCE_DIR) + "/config/dev-psp-keys.yaml", keys);
    fs::permissions(keys, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    const int hook_port = free_port(), psp_port = free_port();  // nothing listens on psp_port
    const auto cfg = parse_config(
        "kafka: { bootstrap_servers: x, topics: {} }\nsecurity: { keys_file: k }\nrisk: { bin_blocklist: [\"400009\"] }\n"
        "router: { routes: [{ name: all, plan: [psp-global] }] }\nchannels:\n"
        "  - id: psp-global\n    kind: http_json\n    endpoint: https://127.0.0.1:" + std::to_string(psp_port) + "\n"
        "    tls: { ca_file: " + (dir / "cert.pem").string() + " }\n    keys_file: " + keys.string() + "\n"
        "    connect_timeout_ms: 1000\n"
        "    webhook: { listen: 127.0.0.1:" + std::to_string(hook_port) + ", max_connections: 4, header_timeout_ms: 500, "
        "body_timeout_ms: 500, max_body_bytes: 1024 }\n",
        "t.yaml");
    auto connector = make_connector(*cfg.channel("psp-global"));
    // A sink that stalls on one payment: whatever the webhook path waits for must not hold
    // up the channel calls.
    std::atomic<bool> stalled{false};
    connector->start_events([&](const ChannelEvent& ev, std::function<void(bool)> done) {
        if (ev.payment_id == "p-stall") {
            stalled = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        }
        done(true);
    });

    const Listener hook{"webhook:psp-global", hook_port, "/webhooks/psp-global", {4, 500, 500, 1024}, 404};
    check_slowloris(hook);
    check_flood(hook);
    check_oversize(hook, "POST", "/webhooks/psp-global");

    // A genuine webhook whose recording stalls, and a channel call meanwhile.
    const std::string key = psp::from_hex("c3e5a7b9d1f2a4c6e8b0d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4");
    const auto body = psp::webhook_json("evt_stall", {"p-stall", "p-stall", "approved", "00", "approved", "psp-1", "A1"});
    const auto ts = std::to_string(now_ms());
    auto webhook = std::async(std::launch::async, [&] {
        return request(hook_port, "POST", "/webhooks/psp-global",
                       std::string(psp::kTimestampHeader) + ": " + ts + "\r\n" + psp::kSignatureHeader + ": " +
                           psp::sign(key, ts, body) + "\r\nContent-Type: application/json\r\n",
                       body, 5000);
    });
    while (!stalled) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    RoutedPayment p;
    p.request.payment_id = "p-call-1";
    const int64_t t0 = mono_ms();
    const auto out = connector->call(std::span<const RoutedPayment>(&p, 1));
    const int64_t call_ms = mono_ms() - t0;
    const auto recorded = webhook.get();
    MESSAGE("webhook stalled 1500 ms in its sink; a channel call meanwhile (PSP port closed) ended "
            << std::string(out.at(0).kind == ChannelOutcome::Kind::soft_failure ? "soft_failure" : "other") << " after " << call_ms
            << " ms; the webhook then answered " << recorded.status);
    CHECK(call_ms < 500);
    CHECK(recorded.status == 200);
}
