#include "state/status_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <stdexcept>

#include "codec/json_writer.hpp"
#include "codec/request_decoder.hpp"
#include "net/http_listener.hpp"

namespace turnout {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
std::atomic<int> g_bound_port{0};

std::string error_body(std::string_view code, std::string_view message) {
    JsonWriter w(128);
    return w.begin_object().field("error", code).field("message", message).end_object().take();
}

constexpr std::string_view kListener = "state";

StatusReply answer(const http::request<http::string_body>& req, const StatusServer::Handler& handler) {
    const std::string_view target(req.target().data(), req.target().size());
    constexpr std::string_view prefix = "/payments/";
    if (req.method() != http::verb::get) return {405, error_body("method_not_allowed", "only GET")};
    if (target.substr(0, prefix.size()) != prefix) return {404, error_body("not_found", "try GET /payments/{id}")};
    const auto id = target.substr(prefix.size());
    return valid_payment_id(id) ? handler(id) : StatusReply{400, error_body("invalid_payment_id", "1-64 of [A-Za-z0-9._:-]")};
}
}  // namespace

struct StatusServer::Impl {
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    Handler handler;
    ListenerLimits limits;
    net::ConnectionCap cap{limits.max_connections};
    std::thread thread;

    void accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (auto slot = cap.take()) {
                    asio::co_spawn(io, serve(beast::tcp_stream(std::move(s)), std::move(slot)), asio::detached);
                } else {
                    net::count_refused(kListener, "over_cap");
                    beast::error_code ignored;
                    s.close(ignored);
                }
            }
            accept();
        });
    }

    // One connection: requests until the client closes (keep-alive), each read under the limits.
    asio::awaitable<void> serve(beast::tcp_stream stream, net::ConnectionCap::Slot) {
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            const auto end = co_await net::read_request(stream, buf, parser, limits);
            if (end != net::ReadEnd::request && end != net::ReadEnd::closed) net::count_refused(kListener, net::to_string(end));
            if (end == net::ReadEnd::closed || end == net::ReadEnd::header_timeout || end == net::ReadEnd::body_timeout) break;
            StatusReply r;
            bool keep_alive = false;
            if (end == net::ReadEnd::request) {
                r = answer(parser.get(), handler);
                keep_alive = parser.get().keep_alive();
            } else if (end == net::ReadEnd::body_too_large) {
                r = {413, error_body("too_large", "a body over " + std::to_string(limits.max_body_bytes) + " bytes")};
            } else if (end == net::ReadEnd::header_too_large) {
                r = {431, error_body("header_too_large", "request line and headers too large")};
            } else {
                r = {400, error_body("bad_request", "not a readable HTTP/1.1 request")};
            }
            http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
            res.set(http::field::content_type, "application/json");
            res.keep_alive(keep_alive);
            res.body() = std::move(r.body);
            res.prepare_payload();
            stream.expires_after(std::chrono::seconds(10));
            auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
            if (ec || !keep_alive) break;
        }
        co_await net::close_gracefully(stream);
    }
};

StatusServer::StatusServer(const std::string& address, int port, Handler handler, const ListenerLimits& limits)
    : impl_(std::make_unique<Impl>()) {
    impl_->handler = std::move(handler);
    impl_->limits = limits;
    impl_->cap = net::ConnectionCap(limits.max_connections);
    net::open_acceptor(impl_->acceptor, address, port, "state status endpoint (state.http_address)");
    port_ = impl_->acceptor.local_endpoint().port();
    g_bound_port = port_;
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

StatusServer::~StatusServer() {
    asio::post(impl_->io, [this] {
        beast::error_code ec;
        impl_->acceptor.close(ec);
    });
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

int bound_status_port() { return g_bound_port.load(); }

StatusReply fetch_payment_status(const std::string& host, int port, std::string_view payment_id, int timeout_ms) {
    // Asynchronous operations under one deadline: a server that accepts and never answers
    // cannot hang the caller.
    asio::io_context io;
    beast::tcp_stream stream(io);
    tcp::resolver resolver(io);
    http::request<http::empty_body> req{http::verb::get, "/payments/" + std::string(payment_id), 11};
    req.set(http::field::host, host);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    beast::error_code failure;
    std::string step = "resolve";
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    resolver.async_resolve(host, std::to_string(port), [&](beast::error_code ec, tcp::resolver::results_type eps) {
        if (ec) return void(failure = ec);
        step = "connect";
        stream.async_connect(eps, [&](beast::error_code ec, const tcp::endpoint&) {
            if (ec) return void(failure = ec);
            step = "request";
            http::async_write(stream, req, [&](beast::error_code ec, size_t) {
                if (ec) return void(failure = ec);
                http::async_read(stream, buf, res, [&](beast::error_code ec, size_t) { failure = ec; });
            });
        });
    });
    io.run_for(std::chrono::milliseconds(timeout_ms + 1000));
    if (!io.stopped()) failure = asio::error::timed_out;
    if (failure)
        throw std::runtime_error(step + " " + host + ":" + std::to_string(port) + ": " + failure.message());
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return {static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace turnout
