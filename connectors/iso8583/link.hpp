#pragma once
// The TCP link to (or, in the host simulator, from) an ISO 8583 host, optionally inside TLS
// (docs/connectors.md "TLS"). Reads and writes go through the TLS stream when there is one;
// a handler keeps that stream alive until it runs, so a link torn down while operations are
// pending never leaves them pointing at a destroyed stream.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>
#include <string>
#include <utility>

namespace turnout::iso8583 {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

// A channel's `tls:` (client side): the CA that signed the host's certificate, the name (or
// IP) that certificate must carry, and the client certificate the host may require.
struct TlsSettings {
    std::string ca_file;      // set = TLS on
    std::string server_name;  // default: the endpoint's host
    std::string cert_file;    // both set = mutual TLS
    std::string key_file;
    bool enabled() const { return !ca_file.empty(); }
};

// TLS 1.2+, the host's certificate verified against ca_file; the client certificate loaded
// when set (key_file must be private). Throws ConfigError naming `channel` and the file.
std::unique_ptr<boost::asio::ssl::context> client_tls_context(const TlsSettings& t, const std::string& channel);
// The host simulator's side: its certificate and key; with `client_ca`, a client certificate
// signed by it is required. Throws ConfigError.
std::unique_ptr<boost::asio::ssl::context> server_tls_context(const std::string& cert_file, const std::string& key_file,
                                                              const std::string& client_ca);

template <typename Buffers, typename Handler>
void link_read(boost::asio::ip::tcp::socket& s, const std::shared_ptr<TlsStream>& tls, const Buffers& b, Handler&& h) {
    if (!tls) return boost::asio::async_read(s, b, std::forward<Handler>(h));
    boost::asio::async_read(*tls, b, [keep = tls, h = std::forward<Handler>(h)](const boost::system::error_code& e,
                                                                               size_t n) mutable { h(e, n); });
}

template <typename Buffers, typename Handler>
void link_write(boost::asio::ip::tcp::socket& s, const std::shared_ptr<TlsStream>& tls, const Buffers& b, Handler&& h) {
    if (!tls) return boost::asio::async_write(s, b, std::forward<Handler>(h));
    boost::asio::async_write(*tls, b, [keep = tls, h = std::forward<Handler>(h)](const boost::system::error_code& e,
                                                                                size_t n) mutable { h(e, n); });
}

}  // namespace turnout::iso8583
