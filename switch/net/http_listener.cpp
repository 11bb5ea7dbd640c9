#include "net/http_listener.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "metrics/metrics.hpp"
#include "model/time.hpp"
#include "config/secret_file.hpp"

namespace turnout::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

std::string_view to_string(ReadEnd e) {
    switch (e) {
        case ReadEnd::request: return "request";
        case ReadEnd::closed: return "closed";
        case ReadEnd::header_timeout: return "header_timeout";
        case ReadEnd::body_timeout: return "body_timeout";
        case ReadEnd::header_too_large: return "header_too_large";
        case ReadEnd::body_too_large: return "body_too_large";
        case ReadEnd::bad_request: return "bad_request";
    }
    return "closed";
}

ReadEnd read_end(const boost::system::error_code& ec, bool got_some, bool in_body) {
    if (ec == http::error::body_limit) return ReadEnd::body_too_large;
    if (ec == http::error::header_limit) return ReadEnd::header_too_large;
    // An idle keep-alive connection that times out is an ordinary close, not slowloris.
    if (ec == beast::error::timeout) return in_body ? ReadEnd::body_timeout : got_some ? ReadEnd::header_timeout : ReadEnd::closed;
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return ReadEnd::closed;
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) return ReadEnd::bad_request;
    return ReadEnd::closed;  // reset, TLS error: nothing to answer
}

void count_refused(std::string_view listener, std::string_view reason) {
    static SeriesCache<prometheus::Counter> refused(
        declare_counter("turnout_listener_refused_total",
                        "Connections and requests an HTTP listener refused or dropped, by listener and reason "
                        "(over_cap, header_timeout, body_timeout, body_too_large, header_too_large, bad_request, "
                        "unauthorized)"),
        {}, {"listener", "reason"});
    refused({listener, reason}).Increment();
    // At most a few lines a second: hostile traffic must not flood the log.
    static std::atomic<int64_t> second{0};
    static std::atomic<int> used{0};
    const int64_t s = now_ms() / 1000;
    if (second.exchange(s) != s) used = 0;
    if (++used <= 5) spdlog::warn("{}: connection refused or dropped: {}", listener, reason);
}

ssl::context server_tls_context(const std::string& cert_file, const std::string& key_file, const std::string& what) {
    ssl::context tls(ssl::context::tls_server);
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls.use_certificate_chain_file(cert_file, ec);
    if (ec) throw std::runtime_error(what + ".cert_file " + cert_file + ": " + ec.message());
    check_secret_file(key_file, what + ".key_file");
    tls.use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error(what + ".key_file " + key_file + ": " + ec.message());
    return tls;
}

void open_acceptor(asio::ip::tcp::acceptor& acceptor, const std::string& address, int port, const std::string& what) {
    beast::error_code ec;
    const auto addr = asio::ip::make_address(address, ec);
    if (ec) throw std::runtime_error(what + " address `" + address + "`: " + ec.message());
    const asio::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error(what + " " + address + ":" + std::to_string(port) + ": " + ec.message());
}

}  // namespace turnout::net
