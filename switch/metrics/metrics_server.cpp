#include "metrics/metrics_server.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <boost/beast/ssl.hpp>

#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

#include "metrics/health.hpp"
#include "model/time.hpp"
#include "net/http_listener.hpp"
#include "config/secret_file.hpp"

namespace turnout {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using net::ReadEnd;

namespace {
constexpr auto use = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kListener = "metrics";

std::string read_password(const std::string& path) {
    check_secret_file(path, "metrics.basic_auth.password_file");
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) throw std::runtime_error("metrics.basic_auth.password_file " + path + ": no password on its first line");
    return line;
}

struct Answer {
    http::status status = http::status::ok;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
    bool challenge = false;  // WWW-Authenticate
};
}  // namespace

std::string basic_authorization(const std::string& user, const std::string& password) {
    const std::string plain = user + ":" + password;
    std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
    out.resize(static_cast<size_t>(n));
    return "Basic " + out;
}

struct MetricsServer::Impl {
    MetricsConfig cfg;
    std::shared_ptr<prometheus::Registry> registry;
    std::string expected_auth;  // empty = /metrics is open
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::optional<ssl::context> tls;
    net::ConnectionCap cap;
    std::thread thread;
    int port = 0;

    Impl(const MetricsConfig& c, std::shared_ptr<prometheus::Registry> r)
        : cfg(c), registry(std::move(r)), cap(c.limits.max_connections) {}

    void accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (auto slot = cap.take()) {
                    asio::co_spawn(io,
                                   net::serve_connection(beast::tcp_stream(std::move(s)), tls ? &*tls : nullptr,
                                                         cfg.limits.header_timeout_ms, std::move(slot),
                                                         [this](auto& stream) { return session(stream); }),
                                   asio::detached);
                } else {
                    net::count_refused(kListener, "over_cap");
                    beast::error_code ignored;
                    s.close(ignored);
                }
            }
            accept();
        });
    }

    template <class Stream>
    asio::awaitable<void> session(Stream& stream) {
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            const auto end = co_await net::read_request(stream, buf, parser, cfg.limits);
            Answer a;
            bool keep_alive = false;
            if (end == ReadEnd::request) {
                a = answer(parser.get());
                keep_alive = parser.get().keep_alive();
            } else if (end == ReadEnd::body_too_large) {
                a = {http::status::payload_too_large, "body over " + std::to_string(cfg.limits.max_body_bytes) + " bytes\n"};
            } else if (end == ReadEnd::header_too_large) {
                a = {http::status::request_header_fields_too_large, "headers too large\n"};
            } else if (end == ReadEnd::bad_request) {
                a = {http::status::bad_request, "not a readable HTTP/1.1 request\n"};
            }
            if (end != ReadEnd::request && end != ReadEnd::closed) net::count_refused(kListener, net::to_string(end));
            if (end == ReadEnd::closed || end == ReadEnd::header_timeout || end == ReadEnd::body_timeout) co_return;
            http::response<http::string_body> res{a.status, 11};
            res.set(http::field::content_type, a.content_type);
            res.set(http::field::cache_control, "no-store");
            if (a.challenge) res.set(http::field::www_authenticate, "Basic realm=\"turnout metrics\", charset=\"UTF-8\"");
            res.keep_alive(keep_alive);
            const bool head = end == ReadEnd::request && parser.get().method() == http::verb::head;
            res.body() = std::move(a.body);
            res.prepare_payload();
            if (head) res.body().clear();  // Content-Length of the GET answer, no body
            beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
            auto [ec, n] = co_await http::async_write(stream, res, use);
            if (ec || !keep_alive) co_return;
        }
    }

    Answer answer(const http::request<http::string_body>& req) {
        std::string_view target(req.target().data(), req.target().size());
        target = target.substr(0, target.find('?'));
        if (req.method() != http::verb::get && req.method() != http::verb::head)
            return {http::status::method_not_allowed, "GET only\n"};
        if (target == "/livez" || target == "/readyz") {
            const auto v = target == "/livez" ? board_liveness(now_ms()) : board_readiness(now_ms());
            return {v.ok ? http::status::ok : http::status::service_unavailable, v.json(), "application/json"};
        }
        if (target != "/metrics") return {http::status::not_found, "try /metrics, /livez or /readyz\n"};
        if (!expected_auth.empty() && !authorized(req)) {
            net::count_refused(kListener, "unauthorized");
            return {http::status::unauthorized, "credentials required\n", "text/plain; charset=utf-8", true};
        }
        return {http::status::ok, prometheus::TextSerializer().Serialize(registry->Collect()),
                "text/plain; version=0.0.4; charset=utf-8"};
    }

    bool authorized(const http::request<http::string_body>& req) const {
        const auto it = req.find(http::field::authorization);
        if (it == req.end()) return false;
        const auto got = it->value();
        return got.size() == expected_auth.size() && CRYPTO_memcmp(got.data(), expected_auth.data(), got.size()) == 0;
    }
};

MetricsServer::MetricsServer(const MetricsConfig& cfg, std::shared_ptr<prometheus::Registry> registry)
    : impl_(std::make_unique<Impl>(cfg, std::move(registry))) {
    if (!cfg.tls_cert_file.empty()) impl_->tls.emplace(net::server_tls_context(cfg.tls_cert_file, cfg.tls_key_file, "metrics.tls"));
    if (!cfg.basic_auth_user.empty())
        impl_->expected_auth = basic_authorization(cfg.basic_auth_user, read_password(cfg.basic_auth_password_file));
    try {
        net::open_acceptor(impl_->acceptor, cfg.address, cfg.port, "metrics");
    } catch (const std::exception& e) {
        const auto p = std::to_string(cfg.port);
        throw std::runtime_error("metrics.port " + p + ": " + e.what() +
                                 ". Another process (another turnout role on this host?) may hold the port: give each "
                                 "process its own with --metrics-port N or TURNOUT__METRICS__PORT=N, or 0 for no "
                                 "metrics endpoint; `ss -ltnp 'sport = :" + p + "'` shows who holds it");
    }
    impl_->port = impl_->acceptor.local_endpoint().port();
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
    spdlog::info("metrics: serving {}://{}:{}/metrics{}", impl_->tls ? "https" : "http", cfg.address, impl_->port,
                 impl_->expected_auth.empty() ? "" : " (basic auth)");
}

MetricsServer::~MetricsServer() {
    asio::post(impl_->io, [this] {
        beast::error_code ec;
        impl_->acceptor.close(ec);
    });
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

int MetricsServer::port() const { return impl_->port; }

}  // namespace turnout
