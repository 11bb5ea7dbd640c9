#include "state/status_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <stdexcept>

#include "codec/json_writer.hpp"
#include "codec/request_decoder.hpp"

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

// One connection: read requests until the client closes (keep-alive), 10 s per request.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket s, const StatusServer::Handler& h) : stream_(std::move(s)), handler_(h) {}
    void start() { read(); }

private:
    void read() {
        req_ = {};
        stream_.expires_after(std::chrono::seconds(10));
        http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return self->close();
            self->answer();
        });
    }

    void answer() {
        StatusReply r;
        const std::string_view target(req_.target().data(), req_.target().size());
        constexpr std::string_view prefix = "/payments/";
        if (req_.method() != http::verb::get) {
            r = {405, error_body("method_not_allowed", "only GET")};
        } else if (target.substr(0, prefix.size()) != prefix) {
            r = {404, error_body("not_found", "try GET /payments/{id}")};
        } else {
            const auto id = target.substr(prefix.size());
            r = valid_payment_id(id) ? handler_(id)
                                     : StatusReply{400, error_body("invalid_payment_id", "1-64 of [A-Za-z0-9._:-]")};
        }
        res_ = {static_cast<http::status>(r.status), req_.version()};
        res_.set(http::field::content_type, "application/json");
        res_.keep_alive(req_.keep_alive());
        res_.body() = std::move(r.body);
        res_.prepare_payload();
        http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec || !self->res_.keep_alive()) return self->close();
            self->read();
        });
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    beast::tcp_stream stream_;
    const StatusServer::Handler& handler_;
    beast::flat_buffer buf_;
    http::request<http::string_body> req_;
    http::response<http::string_body> res_;
};
}  // namespace

struct StatusServer::Impl {
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    Handler handler;
    std::thread thread;

    void accept() {
        acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
            if (ec) {
                if (ec == asio::error::operation_aborted) return;
            } else {
                std::make_shared<Session>(std::move(s), handler)->start();
            }
            accept();
        });
    }
};

StatusServer::StatusServer(const std::string& address, int port, Handler handler) : impl_(std::make_unique<Impl>()) {
    impl_->handler = std::move(handler);
    beast::error_code ec;
    const auto addr = asio::ip::make_address(address, ec);
    if (ec) throw std::runtime_error("state.http_address `" + address + "`: " + ec.message());
    const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("status endpoint " + address + ":" + std::to_string(port) + ": " + ec.message());
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
