// turnout-sim psp: a REST/JSON PSP over HTTPS for the http_json connector (psp_protocol.hpp
// has the wire format). It checks each request's signature, honours the Idempotency-Key (a
// repeated key is answered with the payment as recorded: the first answer, or its final
// state once decided), decides by the amount's last two digits and sends signed webhooks
// for payments it answers asynchronously.
//
//   ..51 declined insufficient_funds    ..05 declined do_not_honor
//   ..91 HTTP 503, not executed (the connector cannot tell: an unknown outcome, asked by status query)
//   ..93 pending (HTTP 202), approved later by webhook
//   POST /v1/payments/<id>/cancel cancels a pending payment (status `cancelled`); a decided
//   one is answered as it stands
//   wallet and bank_account payments: pending, then approved (or declined by the rules above)
//   anything else approved; captures, voids and refunds approved at once
//
// Its TLS certificate: at start, if tls.ca_file does not exist, it makes a throw-away CA
// (ca_file and <dir>/<ca name>-key.pem beside it) and then, if missing, a server certificate
// signed by it for 127.0.0.1, localhost and tls.server_name (<dir>/<channel>-server.pem and
// -server-key.pem). Development only: the keys are written unencrypted.
//
// --fault NAME=VALUE, SHARE is 0..1 of payments (chosen by a hash of the payment_id):
//   latency_ms=N           answer every request N ms late
//   timeout=SHARE          execute, never answer (the connector must query)
//   drop=SHARE             close the connection after reading the request, not executed
//   decline=SHARE          decline (do_not_honor) whatever the amount
//   error=SHARE            HTTP 503, not executed
//   async=SHARE            answer pending + webhook whatever the instrument
//   webhook_delay_ms=N     send webhooks N ms after the answer (default 20)
//   webhook_duplicates=N   redeliver every webhook N more times (freshly signed)
//   webhook_replay=1       also resend each webhook byte for byte (a replay; must be refused)
//   bad_signature=SHARE    before the real webhook send a forged one (wrong key, opposite outcome)
//   no_webhook=SHARE       never send the webhook (the connector must query)
//   query_timeout=1        never answer status queries
//   reply_status=CODE      execute the payment, then answer HTTP CODE (400..599) instead of it,
//                          to every POST of the key (a 502/504 from a gateway, a 409 "key in
//                          use", a 429); reply_status_share=SHARE of payments (default 1),
//                          reply_status_times=N only the first N POSTs of a key (0 = all)
//   stay_pending=SHARE     a pending payment is never decided (the payer never completes):
//                          it stays pending until cancelled
//   cancel_timeout=1       never answer cancels
// On exit it logs one line `psp-sim totals: ...` (requests, queries, webhooks sent / acked /
// refused) for tests and operators.
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "codec/json_read.hpp"
#include "http_json/psp_protocol.hpp"
#include "http_json/settings.hpp"
#include "http_json/signature.hpp"
#include "model/time.hpp"
#include "sim/channel_simulator.hpp"

namespace turnout::psp {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
constexpr auto use = asio::as_tuple(asio::use_awaitable);

// --- throw-away certificates -----------------------------------------------------------

struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

void write_pem(const fs::path& p, const std::function<int(FILE*)>& w, bool secret) {
    fs::create_directories(p.parent_path().empty() ? fs::path(".") : p.parent_path());
    const auto tmp = p.string() + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) throw ConfigError("cannot write " + tmp);
    if (secret) fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
    const int ok = w(f);
    std::fclose(f);
    if (!ok) throw ConfigError("cannot write " + tmp);
    fs::rename(tmp, p);
}

X509Ptr make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool ca,
                  const std::string& san) {
    X509Ptr x(X509_new());
    X509_set_version(x.get(), 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 60L * 60 * 24 * 825);
    X509_set_pubkey(x.get(), key);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Turnout development"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
    auto add = [&](int nid, const char* value) {
        X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        if (!e) throw ConfigError(std::string("certificate extension ") + value);
        X509_add_ext(x.get(), e, -1);
        X509_EXTENSION_free(e);
    };
    if (ca) {
        add(NID_basic_constraints, "critical,CA:TRUE");
        add(NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add(NID_basic_constraints, "critical,CA:FALSE");
        add(NID_key_usage, "critical,digitalSignature");
        add(NID_ext_key_usage, "serverAuth");
        add(NID_subject_alt_name, san.c_str());
    }
    if (!X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256())) throw ConfigError("cannot sign certificate");
    return x;
}

PkeyPtr read_key(const fs::path& p) {
    FILE* f = std::fopen(p.c_str(), "r");
    if (!f) throw ConfigError("cannot read " + p.string());
    PkeyPtr k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    if (!k) throw ConfigError("not a private key: " + p.string());
    return k;
}

X509Ptr read_cert(const fs::path& p) {
    FILE* f = std::fopen(p.c_str(), "r");
    if (!f) throw ConfigError("cannot read " + p.string());
    X509Ptr x(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    if (!x) throw ConfigError("not a certificate: " + p.string());
    return x;
}

struct ServerFiles {
    fs::path cert, key;
};

ServerFiles ensure_certificates(const HttpJsonSettings& s) {
    const fs::path ca_cert = s.ca_file;
    const fs::path dir = ca_cert.parent_path();
    const fs::path ca_key = dir / (ca_cert.stem().string() + "-key.pem");
    ServerFiles out{dir / (s.channel_id + "-server.pem"), dir / (s.channel_id + "-server-key.pem")};
    if (!fs::exists(ca_cert)) {
        PkeyPtr k(EVP_EC_gen("P-256"));
        auto x = make_cert(k.get(), "Turnout development CA", nullptr, nullptr, true, "");
        write_pem(ca_key, [&](FILE* f) { return PEM_write_PrivateKey(f, k.get(), nullptr, nullptr, 0, nullptr, nullptr); }, true);
        write_pem(ca_cert, [&](FILE* f) { return PEM_write_X509(f, x.get()); }, false);
        fs::remove(out.cert);
        spdlog::info("made a development CA: {}", ca_cert.string());
    }
    if (!fs::exists(out.cert) || !fs::exists(out.key)) {
        auto cak = read_key(ca_key);
        auto cax = read_cert(ca_cert);
        PkeyPtr k(EVP_EC_gen("P-256"));
        std::string san = "IP:127.0.0.1,DNS:localhost";
        boost::system::error_code ec;
        asio::ip::make_address(s.server_name, ec);
        if (s.server_name != "127.0.0.1" && s.server_name != "localhost") san += (ec ? ",DNS:" : ",IP:") + s.server_name;
        auto x = make_cert(k.get(), s.server_name, cax.get(), cak.get(), false, san);
        write_pem(out.key, [&](FILE* f) { return PEM_write_PrivateKey(f, k.get(), nullptr, nullptr, 0, nullptr, nullptr); }, true);
        write_pem(out.cert, [&](FILE* f) { return PEM_write_X509(f, x.get()); }, false);
        spdlog::info("made a server certificate for {}: {}", san, out.cert.string());
    }
    return out;
}

// --- faults ----------------------------------------------------------------------------

struct Faults {
    int latency_ms = 0;
    double timeout = 0, drop = 0, decline = 0, error = 0, async = 0, bad_signature = 0, no_webhook = 0;
    int webhook_delay_ms = 20;
    int webhook_duplicates = 0;
    bool webhook_replay = false;
    bool query_timeout = false;
    int reply_status = 0;
    double reply_status_share = 1, stay_pending = 0;
    int reply_status_times = 0;
    bool cancel_timeout = false;
};

Faults parse_faults(const std::map<std::string, std::string>& m) {
    Faults f;
    for (const auto& [k, v] : m) {
        auto share = [&] {
            double d = -1;
            try { d = std::stod(v); } catch (...) {}
            if (!(d >= 0 && d <= 1)) throw ConfigError("--fault " + k + ": expected a share 0..1, got `" + v + "`");
            return d;
        };
        auto count = [&] {
            int n = -1;
            std::from_chars(v.data(), v.data() + v.size(), n);
            if (n < 0 || n > 600'000) throw ConfigError("--fault " + k + ": expected a number 0..600000, got `" + v + "`");
            return n;
        };
        if (k == "latency_ms") f.latency_ms = count();
        else if (k == "timeout") f.timeout = share();
        else if (k == "drop") f.drop = share();
        else if (k == "decline") f.decline = share();
        else if (k == "error") f.error = share();
        else if (k == "async") f.async = share();
        else if (k == "bad_signature") f.bad_signature = share();
        else if (k == "no_webhook") f.no_webhook = share();
        else if (k == "webhook_delay_ms") f.webhook_delay_ms = count();
        else if (k == "webhook_duplicates") f.webhook_duplicates = count();
        else if (k == "webhook_replay") f.webhook_replay = count() > 0;
        else if (k == "query_timeout") f.query_timeout = count() > 0;
        else if (k == "reply_status") {
            f.reply_status = count();
            if (f.reply_status < 400 || f.reply_status > 599) throw ConfigError("--fault reply_status: expected 400..599");
        } else if (k == "reply_status_share") f.reply_status_share = share();
        else if (k == "reply_status_times") f.reply_status_times = count();
        else if (k == "stay_pending") f.stay_pending = share();
        else if (k == "cancel_timeout") f.cancel_timeout = count() > 0;
        else
            throw ConfigError("--fault: unknown fault `" + k +
                              "` (latency_ms, timeout, drop, decline, error, async, webhook_delay_ms, "
                              "webhook_duplicates, webhook_replay, bad_signature, no_webhook, query_timeout, reply_status, "
                              "reply_status_share, reply_status_times, stay_pending, cancel_timeout)");
    }
    return f;
}

// Deterministic per payment and fault, so a retry of the same payment meets the same fault.
bool hit(double share, const std::string& payment_id, std::string_view fault) {
    if (share <= 0) return false;
    if (share >= 1) return true;
    uint64_t h = 1469598103934665603ull;
    for (char c : payment_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (char c : fault) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return static_cast<double>(h >> 11) / static_cast<double>(1ull << 53) < share;
}

std::string hex_of(uint64_t h, size_t digits) {
    static const char hex[] = "0123456789abcdef";
    std::string out(digits, '0');
    for (size_t i = 0; i < digits; ++i) out[i] = hex[(h >> (4 * (i % 16))) & 15];
    return out;
}

uint64_t fnv(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

// --- the PSP ---------------------------------------------------------------------------

struct Recorded {
    PspPayment payment;
    std::string final_status, final_code, final_message;  // for a pending payment: what it becomes
    std::string callback_url;
    int posts = 0;  // POSTs received under its key
};

struct Totals {
    uint64_t requests = 0, replays = 0, bad_requests = 0, queries = 0, webhooks_sent = 0, webhooks_acked = 0,
             webhooks_refused = 0, forged_sent = 0, timeouts = 0, drops = 0, errors = 0, replied_status = 0,
             cancels = 0, cancelled = 0;
};

class PspSimulator {
public:
    PspSimulator(const SimulatorArgs& args)
        : args_(args), s_(parse_http_json_settings(args.channel)), faults_(parse_faults(args.faults)),
          tls_(ssl::context::tls_server) {
        load_http_json_keys(s_);
        keys_.keys = {s_.request_key};
        const auto files = ensure_certificates(s_);
        tls_.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        tls_.use_certificate_chain_file(files.cert.string());
        tls_.use_private_key_file(files.key.string(), ssl::context::pem);
        std::string host = s_.host, port = s_.port;
        if (!args.listen.empty()) {
            host = args.listen.substr(0, args.listen.rfind(':'));
            port = args.listen.substr(args.listen.rfind(':') + 1);
        }
        acceptor_ = std::make_unique<tcp::acceptor>(
            ioc_, tcp::endpoint(asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host),
                                static_cast<unsigned short>(std::stoi(port))),
            true);
        if (!args.ledger_file.empty()) load_ledger();
        spdlog::info("serving https://{}:{} (channel {})", host, port, s_.channel_id);
    }

    int run() {
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        asio::co_spawn(ioc_, watch_stop(), asio::detached);
        ioc_.run();
        spdlog::info("psp-sim totals: requests={} replays={} bad_requests={} queries={} timeouts={} drops={} errors={} "
                     "webhooks_sent={} webhooks_acked={} webhooks_refused={} forged_sent={} replied_status={} "
                     "cancels={} cancelled={}",
                     t_.requests, t_.replays, t_.bad_requests, t_.queries, t_.timeouts, t_.drops, t_.errors,
                     t_.webhooks_sent, t_.webhooks_acked, t_.webhooks_refused, t_.forged_sent, t_.replied_status,
                     t_.cancels, t_.cancelled);
        return 0;
    }

private:
    asio::awaitable<void> watch_stop() {
        asio::steady_timer t(ioc_);
        while (!args_.stop.load()) {
            t.expires_after(std::chrono::milliseconds(100));
            co_await t.async_wait(use);
        }
        acceptor_->close();
        ioc_.stop();
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_->async_accept(use);
            if (ec) {
                if (ec == asio::error::operation_aborted) co_return;
                continue;
            }
            sock.set_option(tcp::no_delay(true));
            asio::co_spawn(ioc_, serve(std::move(sock)), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket sock) {
        beast::ssl_stream<beast::tcp_stream> s(std::move(sock), tls_);
        beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
        auto [ec] = co_await s.async_handshake(ssl::stream_base::server, use);
        if (ec) co_return;
        beast::flat_buffer buf;
        for (;;) {
            beast::get_lowest_layer(s).expires_never();
            http::request_parser<http::string_body> parser;
            parser.body_limit(64 * 1024);
            auto [ec1, n] = co_await http::async_read(s, buf, parser, use);
            if (ec1) co_return;
            auto req = parser.release();
            auto act = handle(req);
            if (act.drop) co_return;  // the socket closes without an answer
            if (act.hang) {
                // Never answer: wait until the client gives up and closes.
                http::request<http::string_body> ignored;
                co_await http::async_read(s, buf, ignored, use);
                co_return;
            }
            if (faults_.latency_ms > 0) {
                asio::steady_timer t(ioc_, std::chrono::milliseconds(faults_.latency_ms));
                co_await t.async_wait(use);
            }
            act.res.keep_alive(req.keep_alive());
            act.res.prepare_payload();
            auto [ec2, n2] = co_await http::async_write(s, act.res, use);
            if (ec2 || !req.keep_alive()) co_return;
            if (act.webhook) asio::co_spawn(ioc_, send_webhooks(*act.webhook), asio::detached);
        }
    }

    struct Action {
        http::response<http::string_body> res;
        bool drop = false, hang = false;
        std::optional<std::string> webhook;  // payment_id whose webhook follows
    };

    static http::response<http::string_body> json(http::status st, std::string body) {
        http::response<http::string_body> r{st, 11};
        r.set(http::field::content_type, "application/json");
        r.body() = std::move(body);
        return r;
    }

    Action handle(const http::request<http::string_body>& req) {
        Action a;
        const auto check = verify_signed(keys_, req[kTimestampHeader], req[kSignatureHeader], req.body(), now_ms(), 300'000);
        if (check != WebhookCheck::ok) {
            ++t_.bad_requests;
            a.res = json(http::status::unauthorized, std::string("{\"error\":\"") + to_string(check) + "\"}");
            return a;
        }
        const std::string target(req.target());
        const std::string base = s_.base_path + "/v1/payments";
        if (req.method() == http::verb::get && target.rfind(base + "/", 0) == 0) {
            ++t_.queries;
            if (faults_.query_timeout) {
                a.hang = true;
                return a;
            }
            auto it = ledger_.find(target.substr(base.size() + 1));
            if (it == ledger_.end()) a.res = json(http::status::not_found, "{\"error\":\"not_found\"}");
            else a.res = json(http::status::ok, payment_json(it->second.payment));
            return a;
        }
        const std::string cancel_suffix = "/cancel";
        if (req.method() == http::verb::post && target.rfind(base + "/", 0) == 0 && target.size() > base.size() + 1 + cancel_suffix.size() &&
            target.compare(target.size() - cancel_suffix.size(), cancel_suffix.size(), cancel_suffix) == 0) {
            ++t_.cancels;
            if (faults_.cancel_timeout) {
                a.hang = true;
                return a;
            }
            const auto id = target.substr(base.size() + 1, target.size() - base.size() - 1 - cancel_suffix.size());
            auto it = ledger_.find(id);
            if (it == ledger_.end()) {
                a.res = json(http::status::not_found, "{\"error\":\"not_found\"}");
                return a;
            }
            auto& p = it->second.payment;
            if (p.status == "pending") {
                ++t_.cancelled;
                p.status = "cancelled", p.code = "cancelled", p.message = "cancelled by the merchant";
                append_ledger(p);
            }
            a.res = json(http::status::ok, payment_json(p));
            return a;
        }
        if (req.method() != http::verb::post || target != base) {
            a.res = json(http::status::not_found, "{\"error\":\"not_found\"}");
            return a;
        }
        const std::string key(req["Idempotency-Key"]);
        if (key.empty()) {
            ++t_.bad_requests;
            a.res = json(http::status::bad_request, "{\"error\":\"missing Idempotency-Key\"}");
            return a;
        }
        ++t_.requests;
        if (auto it = ledger_.find(key); it != ledger_.end()) {
            ++t_.replays;
            if (reply_status(it->second)) {
                a.res = json(static_cast<http::status>(faults_.reply_status), "{\"error\":\"fault\"}");
                return a;
            }
            const auto& p = it->second.payment;
            a.res = json(p.status == "pending" ? http::status::accepted : http::status::ok, payment_json(p));
            return a;
        }
        boost::system::error_code ec;
        auto v = boost::json::parse(req.body(), ec);
        const auto* o = ec ? nullptr : v.if_object();
        const auto* amount = o ? json_read::obj(*o, "amount") : nullptr;
        if (!amount || json_read::str(*o, "payment_id") != key) {
            ++t_.bad_requests;
            a.res = json(http::status::unprocessable_entity, "{\"error\":\"invalid payment\"}");
            return a;
        }
        if (hit(faults_.drop, key, "drop")) {
            ++t_.drops;
            a.drop = true;
            return a;
        }
        const int64_t cents = json_read::int_or(*amount, "value") % 100;
        const auto type = json_read::str(*o, "type");
        const bool follow_up = type == "capture" || type == "void" || type == "refund";
        if (hit(faults_.error, key, "error") || (!follow_up && cents == 91)) {
            ++t_.errors;
            a.res = json(http::status::service_unavailable, "{\"error\":\"temporarily unavailable\"}");
            return a;
        }
        Recorded r;
        r.payment.payment_id = key;
        r.payment.root_id = key;
        if (const auto* md = json_read::obj(*o, "metadata")) r.payment.root_id = json_read::str(*md, "root_id");
        r.payment.psp_ref = "psp_" + hex_of(fnv(s_.channel_id + key), 16);
        r.callback_url = json_read::str(*o, "callback_url");
        r.final_status = "approved", r.final_code = "approved", r.final_message = "approved";
        if (!follow_up && (cents == 51)) r.final_status = "declined", r.final_code = "insufficient_funds", r.final_message = "insufficient funds";
        if (!follow_up && (cents == 5 || hit(faults_.decline, key, "decline")))
            r.final_status = "declined", r.final_code = "do_not_honor", r.final_message = "do not honor";
        std::string kind;
        if (const auto* in = json_read::obj(*o, "instrument")) kind = json_read::str(*in, "kind");
        const bool async = !follow_up && !r.callback_url.empty() &&
                           (kind == "wallet" || kind == "bank_account" || cents == 93 || hit(faults_.async, key, "async"));
        if (async) {
            r.payment.status = "pending", r.payment.code = "pending", r.payment.message = "awaiting the payer";
            a.webhook = key;
        } else {
            decide(r);
        }
        ledger_[key] = r;
        append_ledger(r.payment);
        if (reply_status(ledger_[key])) {
            // Executed, but the answer the client gets is an error (a gateway in front of
            // the PSP, or a PSP that reports a busy key or a rate limit after the fact).
            a.res = json(static_cast<http::status>(faults_.reply_status), "{\"error\":\"fault\"}");
            if (a.webhook) asio::co_spawn(ioc_, send_webhooks(*a.webhook), asio::detached);
            a.webhook.reset();
            return a;
        }
        if (hit(faults_.timeout, key, "timeout")) {
            ++t_.timeouts;
            a.hang = true;
            if (a.webhook) asio::co_spawn(ioc_, send_webhooks(*a.webhook), asio::detached);
            return a;
        }
        a.res = json(async ? http::status::accepted : http::status::ok, payment_json(r.payment));
        return a;
    }

    // Counts a POST of the recorded payment; true if the reply_status fault answers it.
    bool reply_status(Recorded& r) {
        const int n = ++r.posts;
        if (faults_.reply_status == 0 || !hit(faults_.reply_status_share, r.payment.payment_id, "reply_status")) return false;
        if (faults_.reply_status_times > 0 && n > faults_.reply_status_times) return false;
        ++t_.replied_status;
        return true;
    }

    static void decide(Recorded& r) {
        r.payment.status = r.final_status;
        r.payment.code = r.final_code;
        r.payment.message = r.final_message;
        if (r.final_status == "approved") r.payment.approval_code = hex_of(fnv(r.payment.psp_ref), 6);
    }

    // The async outcome: decided after webhook_delay_ms, then delivered (and redelivered
    // until a 2xx, with a fresh timestamp and signature each time).
    asio::awaitable<void> send_webhooks(std::string payment_id) {
        asio::steady_timer t(ioc_, std::chrono::milliseconds(faults_.webhook_delay_ms));
        co_await t.async_wait(use);
        auto it = ledger_.find(payment_id);
        if (it == ledger_.end()) co_return;
        auto& r = it->second;
        if (hit(faults_.stay_pending, payment_id, "stay_pending")) co_return;
        if (r.payment.status == "pending") {
            decide(r);
            append_ledger(r.payment);
        }
        if (hit(faults_.no_webhook, payment_id, "no_webhook")) co_return;
        const std::string event_id = "evt_" + hex_of(fnv("evt" + payment_id), 16);
        if (hit(faults_.bad_signature, payment_id, "bad_signature")) {
            PspPayment forged = r.payment;
            forged.status = forged.status == "approved" ? "declined" : "approved";
            const auto body = webhook_json("evt_forged_" + hex_of(fnv(payment_id), 8), forged);
            const auto ts = std::to_string(now_ms());
            ++t_.forged_sent;
            co_await post_webhook(r.callback_url, body, ts, sign("not-the-webhook-key", ts, body));
        }
        const auto body = webhook_json(event_id, r.payment);
        for (int copy = 0; copy <= faults_.webhook_duplicates; ++copy) {
            for (int attempt = 0; attempt < 50; ++attempt) {
                const auto ts = std::to_string(now_ms());
                const auto sig = sign(s_.webhook_key, ts, body);
                ++t_.webhooks_sent;
                const unsigned st = co_await post_webhook(r.callback_url, body, ts, sig);
                if (st >= 200 && st < 300) {
                    ++t_.webhooks_acked;
                    if (faults_.webhook_replay && copy == 0) {
                        // The same bytes again, as a captured request replayed would be.
                        ++t_.webhooks_sent;
                        const unsigned again = co_await post_webhook(r.callback_url, body, ts, sig);
                        if (again >= 200 && again < 300) ++t_.webhooks_acked;
                        else ++t_.webhooks_refused;
                    }
                    break;
                }
                ++t_.webhooks_refused;
                if (st >= 400 && st < 500 && st != 409) break;  // refused: redelivery would not help
                asio::steady_timer back(ioc_, std::chrono::milliseconds(std::min(200 * (attempt + 1), 2000)));
                co_await back.async_wait(use);
            }
        }
    }

    // POSTs one webhook (plain HTTP, a connection each); returns the HTTP status, 0 on error.
    asio::awaitable<unsigned> post_webhook(const std::string& url, const std::string& body, const std::string& ts,
                                           const std::string& sig) {
        if (url.rfind("http://", 0) != 0) co_return 0;
        const auto rest = url.substr(7);
        const auto slash = rest.find('/');
        const auto hostport = rest.substr(0, slash);
        const auto target = slash == std::string::npos ? std::string("/") : rest.substr(slash);
        const auto colon = hostport.rfind(':');
        tcp::resolver resolver(ioc_);
        auto [ec0, eps] = co_await resolver.async_resolve(hostport.substr(0, colon), hostport.substr(colon + 1), use);
        if (ec0) co_return 0;
        beast::tcp_stream s(ioc_);
        s.expires_after(std::chrono::seconds(10));
        auto [ec1, ep] = co_await s.async_connect(eps, use);
        if (ec1) co_return 0;
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, hostport);
        req.set(http::field::content_type, "application/json");
        req.set(kTimestampHeader, ts);
        req.set(kSignatureHeader, sig);
        req.keep_alive(false);
        req.body() = body;
        req.prepare_payload();
        auto [ec2, n] = co_await http::async_write(s, req, use);
        if (ec2) co_return 0;
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        auto [ec3, n3] = co_await http::async_read(s, buf, res, use);
        if (ec3) co_return 0;
        co_return res.result_int();
    }

    // Ledger lines: `<payment_id> <root_id> <status> <code> <psp_ref> <approval_code|-> <callback|->`;
    // the last line of a payment wins (a pending payment gets a second line once decided).
    void append_ledger(const PspPayment& p) {
        if (args_.ledger_file.empty()) return;
        if (!ledger_out_.is_open()) ledger_out_.open(args_.ledger_file, std::ios::app);
        auto f = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
        ledger_out_ << p.payment_id << ' ' << f(p.root_id) << ' ' << p.status << ' ' << f(p.code) << ' ' << f(p.psp_ref)
                    << ' ' << f(p.approval_code) << ' ' << f(ledger_[p.payment_id].callback_url) << '\n';
        ledger_out_.flush();
    }

    void load_ledger() {
        std::ifstream in(args_.ledger_file);
        std::string id, root, status, code, ref, approval, callback;
        auto u = [](const std::string& v) { return v == "-" ? std::string() : v; };
        size_t n = 0;
        while (in >> id >> root >> status >> code >> ref >> approval >> callback) {
            auto& r = ledger_[id];
            r.payment = {id, u(root), status, u(code), status, u(ref), u(approval)};
            r.payment.message = status;
            r.callback_url = u(callback);
            ++n;
        }
        // A payment left pending by a previous run is decided and its webhook sent again.
        for (auto& [pid, r] : ledger_)
            if (r.payment.status == "pending") {
                r.final_status = "approved", r.final_code = "approved", r.final_message = "approved";
                asio::co_spawn(ioc_, send_webhooks(pid), asio::detached);
            }
        spdlog::info("ledger {}: {} lines, {} payments", args_.ledger_file, n, ledger_.size());
    }

    const SimulatorArgs& args_;
    HttpJsonSettings s_;
    Faults faults_;
    asio::io_context ioc_{1};
    ssl::context tls_;
    WebhookKeys keys_;
    std::unique_ptr<tcp::acceptor> acceptor_;
    std::map<std::string, Recorded> ledger_;
    std::ofstream ledger_out_;
    Totals t_;
};

int psp_main(const SimulatorArgs& args) {
    PspSimulator sim(args);
    return sim.run();
}

}  // namespace
}  // namespace turnout::psp

TURNOUT_REGISTER_SIMULATOR("psp", psp, ::turnout::psp::psp_main);
