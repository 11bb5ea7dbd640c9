#include "iso8583/link.hpp"

#include "config/config.hpp"
#include "config/secret_file.hpp"

namespace turnout::iso8583 {
namespace ssl = boost::asio::ssl;

namespace {
enum class Use { ca, cert, key };

void load(ssl::context& ctx, const std::string& what, const std::string& file, Use use) {
    boost::system::error_code ec;
    if (use == Use::key) ctx.use_private_key_file(file, ssl::context::pem, ec);
    else if (use == Use::ca) ctx.load_verify_file(file, ec);
    else ctx.use_certificate_chain_file(file, ec);
    if (ec) throw ConfigError(what + ": cannot use " + file + " (" + ec.message() + ")");
}
}  // namespace

std::unique_ptr<ssl::context> client_tls_context(const TlsSettings& t, const std::string& channel) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx->set_verify_mode(ssl::verify_peer);
    const std::string at = "channels." + channel + ".tls.";
    load(*ctx, at + "ca_file", t.ca_file, Use::ca);
    if (t.cert_file.empty() != t.key_file.empty())
        throw ConfigError(at + "cert_file and key_file: set both (mutual TLS) or neither");
    if (!t.cert_file.empty()) {
        check_secret_file(t.key_file, at + "key_file");
        load(*ctx, at + "cert_file", t.cert_file, Use::cert);
        load(*ctx, at + "key_file", t.key_file, Use::key);
    }
    return ctx;
}

std::unique_ptr<ssl::context> server_tls_context(const std::string& cert_file, const std::string& key_file,
                                                 const std::string& client_ca) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    load(*ctx, "--tls-cert", cert_file, Use::cert);
    load(*ctx, "--tls-key", key_file, Use::key);
    if (!client_ca.empty()) {
        load(*ctx, "--tls-client-ca", client_ca, Use::ca);
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    return ctx;
}

}  // namespace turnout::iso8583
