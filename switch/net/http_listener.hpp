#pragma once
// What the HTTP listeners (gateway, state status endpoint, metrics, http_json webhooks) share
// to hold their limits (config ListenerLimits; docs/security.md "Listeners"): a connection
// cap, a request read under a header deadline and then a body deadline, a body limit the
// declared Content-Length is checked against before a byte of the body is read, and the TLS
// server context. Each listener keeps its own accept loop and its own answers.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace turnout::net {

// A listener's open connections against its cap. A slot is held by the connection's
// coroutine and given back when it ends, whatever outlives what at shutdown.
class ConnectionCap {
public:
    using Slot = std::shared_ptr<void>;
    explicit ConnectionCap(int max) : max_(max) {}
    // Empty at the cap.
    Slot take() {
        if (open_->fetch_add(1) >= max_) {
            --*open_;
            return nullptr;
        }
        return Slot(open_.get(), [open = open_](void*) { --*open; });
    }
    int open() const { return open_->load(); }
    int max() const { return max_; }

private:
    int max_;
    std::shared_ptr<std::atomic<int>> open_ = std::make_shared<std::atomic<int>>(0);
};

// How reading one request ended.
enum class ReadEnd {
    request,           // a whole request
    closed,            // the client closed or went quiet before the first byte of a request
    header_timeout,    // headers not complete within header_timeout_ms (slowloris)
    body_timeout,      // body not complete within body_timeout_ms
    header_too_large,  // request line and headers over the header limit: answer 431
    body_too_large,    // declared or sent body over max_body_bytes: answer 413, unread
    bad_request,       // not HTTP/1.1: answer 400
};
std::string_view to_string(ReadEnd e);

constexpr unsigned kHeaderLimit = 8192;  // bytes of request line and headers

ReadEnd read_end(const boost::system::error_code& ec, bool got_some, bool in_body);

// Reads one request into `parser` (fresh for each request) under `limits`. Never throws.
template <class Stream>
boost::asio::awaitable<ReadEnd> read_request(Stream& stream, boost::beast::flat_buffer& buf,
                                              boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                                              const ListenerLimits& limits) {
    namespace http = boost::beast::http;
    constexpr auto use = boost::asio::as_tuple(boost::asio::use_awaitable);
    parser.header_limit(kHeaderLimit);
    parser.body_limit(static_cast<uint64_t>(limits.max_body_bytes));
    auto& tcp = boost::beast::get_lowest_layer(stream);
    tcp.expires_after(std::chrono::milliseconds(limits.header_timeout_ms));
    // A Content-Length over the limit fails here, with the headers: the body is never read.
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, use);
    if (ec) co_return read_end(ec, parser.got_some() || buf.size() > 0, false);
    if (!parser.is_done()) {
        tcp.expires_after(std::chrono::milliseconds(limits.body_timeout_ms));
        auto [ec2, n2] = co_await http::async_read(stream, buf, parser, use);
        if (ec2) co_return read_end(ec2, true, true);
    }
    co_return ReadEnd::request;
}

// Ends a plain connection: shuts down sending, then reads and drops what the client still
// sends (a body refused unread) for a moment before closing: closing with unread data resets
// the connection, and the client could lose the answer.
inline boost::asio::awaitable<void> close_gracefully(boost::beast::tcp_stream& stream) {
    boost::beast::error_code ignored;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    char sink[16384];
    size_t drained = 0;
    stream.expires_after(std::chrono::seconds(1));
    while (drained < (1u << 20)) {
        auto [ec, n] = co_await stream.async_read_some(boost::asio::buffer(sink),
                                                       boost::asio::as_tuple(boost::asio::use_awaitable));
        if (ec) break;
        drained += n;
    }
}

// One accepted connection, from handshake to close: with `tls`, a TLS handshake within
// `handshake_timeout_ms`, then `session(stream)`, then a TLS shutdown (2 s at most); without,
// `session(stream)` on the plain stream, then close_gracefully. `session` is called with the
// stream by reference and returns awaitable<void>; `slot` (the connection cap's) is held
// until the connection ends.
template <class Slot, class Session>
boost::asio::awaitable<void> serve_connection(boost::beast::tcp_stream tcp, boost::asio::ssl::context* tls,
                                              int handshake_timeout_ms, Slot slot, Session session) {
    namespace beast = boost::beast;
    (void)slot;  // held by the coroutine frame until the connection ends
    const auto use = boost::asio::as_tuple(boost::asio::use_awaitable);
    if (!tls) {
        co_await session(tcp);
        co_await close_gracefully(tcp);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp), *tls);
    beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(handshake_timeout_ms));
    auto [ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server, use);
    if (ec) co_return;
    co_await session(stream);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(use);
}

// Counts a refused or dropped connection or request (turnout_listener_refused_total) and
// logs it at warn, a few lines a second at most.
void count_refused(std::string_view listener, std::string_view reason);

// A TLS 1.2+ server context from a certificate chain and a private key (a private file:
// check_secret_file). Throws std::runtime_error naming `what` (e.g. "gateway.tls").
boost::asio::ssl::context server_tls_context(const std::string& cert_file, const std::string& key_file,
                                             const std::string& what);

// Binds and listens on address:port (port 0 = ephemeral). Throws std::runtime_error naming
// `what` and the address.
void open_acceptor(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address, int port,
                   const std::string& what);

}  // namespace turnout::net
