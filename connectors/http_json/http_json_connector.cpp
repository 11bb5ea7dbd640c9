// The `http_json` channel kind: a REST/JSON PSP over HTTPS (psp_protocol.hpp has the wire
// format). One io_context thread per connector carries every payment of a batch
// concurrently over a pool of keep-alive TLS connections (one request in flight per
// connection). The webhook listener runs on an io_context and thread of its own, under the
// limits every listener holds (net/http_listener.hpp): a flood of webhook connections cannot
// delay a channel call.
//
// Outcomes (psp_protocol.hpp: classify_answer): only a request that never left (connect or
// TLS handshake failed, nothing written) is a soft failure that may move to the next
// channel. 409 (key in use) and 429 are sent again on this channel after a short delay, a
// bounded number of times. Every other unclear answer (no answer, 5xx, 408, unreadable
// body, retries used up) is an unknown outcome: the PSP is asked (GET by idempotency key)
// before anything is answered, and what it still cannot say is `failed` / `unknown_outcome`.
// A reused keep-alive connection that turns out closed before any answer byte is retried
// once on a fresh connection: the Idempotency-Key makes that resend safe.
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <future>
#include <thread>

#include "connector.hpp"
#include "connector_probe.hpp"
#include "http_json/psp_protocol.hpp"
#include "http_json/settings.hpp"
#include "http_json/signature.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"
#include "net/http_listener.hpp"

namespace turnout::psp {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

CounterFamily& webhooks() {
    static auto& f = declare_counter("turnout_webhooks_total",
                                     "Webhook deliveries received, by channel and outcome (accepted or why rejected)");
    return f;
}
using tcp = asio::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto use = asio::as_tuple(asio::use_awaitable);
using K = ChannelOutcome::Kind;

bool is_ip(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

struct Exchange {
    Delivery delivery = Delivery::not_sent;
    unsigned status = 0;
    std::string body;
    std::string error;
    int64_t retry_after_ms = -1;  // the answer's Retry-After (seconds), -1 if none
};

enum class Mode { pay, query, cancel };

class HttpJsonConnector : public Connector {
public:
    explicit HttpJsonConnector(HttpJsonSettings s)
        : s_(std::move(s)),
          tls_(ssl::context::tls_client),
          keys_{{s_.webhook_key}},
          replays_(s_.replay_window_ms),
          unknown_(ConnectorProbe::call_series(s_.channel_id, "unknown_queried")),
          busy_retries_(ConnectorProbe::call_series(s_.channel_id, "busy_retry")) {
        tls_.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        tls_.set_verify_mode(ssl::verify_peer);
        boost::system::error_code ec;
        tls_.load_verify_file(s_.ca_file, ec);
        if (ec)
            throw ConfigError("channels." + s_.channel_id + ".tls.ca_file: cannot read " + s_.ca_file + " (" +
                              ec.message() + "). It is the CA that signed the PSP's TLS certificate: point "
                              "tls.ca_file at it; on a development machine `scripts/sims start` runs the PSP "
                              "simulator, which creates " + s_.ca_file + " for the shipped config");
        tcp::resolver resolver(ioc_);
        endpoints_ = resolver.resolve(s_.host, s_.port, ec);
        if (ec) throw ConfigError("channel " + s_.channel_id + ": cannot resolve " + s_.host + ": " + ec.message());
        for (const char* o : {"accepted", "bad_signature", "missing_signature", "bad_timestamp", "outside_window",
                              "replayed", "malformed_body", "not_final", "unrecorded"})
            webhooks_[o] = &webhooks().Add({{"channel", s_.channel_id}, {"outcome", o}});
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~HttpJsonConnector() override {
        if (hook_thread_.joinable()) {
            asio::post(hook_ioc_, [this] {
                if (acceptor_) acceptor_->close();
            });
            hook_ioc_.stop();
            hook_thread_.join();
        }
        asio::post(ioc_, [this] { idle_.clear(); });
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    bool asynchronous() const override { return !s_.webhook_listen.empty(); }
    PendingPolicy pending_policy() const override { return s_.pending; }

    void start_events(ChannelEventSink sink) override {
        if (s_.webhook_listen.empty()) return;
        sink_ = std::move(sink);
        try {
            if (!s_.webhook_tls_cert_file.empty())
                hook_tls_.emplace(net::server_tls_context(s_.webhook_tls_cert_file, s_.webhook_tls_key_file,
                                                          "channels." + s_.channel_id + ".webhook.tls"));
            const auto colon = s_.webhook_listen.rfind(':');
            acceptor_ = std::make_unique<tcp::acceptor>(hook_ioc_);
            net::open_acceptor(*acceptor_, s_.webhook_listen.substr(0, colon), std::stoi(s_.webhook_listen.substr(colon + 1)),
                               "webhook listener");
        } catch (const std::exception& e) {
            throw std::runtime_error("channel " + s_.channel_id + ": webhook listener on " + s_.webhook_listen + ": " + e.what());
        }
        asio::co_spawn(hook_ioc_, accept_loop(), asio::detached);
        hook_thread_ = std::thread([this] { hook_ioc_.run(); });
        spdlog::info("connector {}: webhook listener on {}{} (callback {})", s_.channel_id, s_.webhook_listen,
                     hook_tls_ ? " (TLS)" : "", s_.callback_url);
    }

    std::vector<ChannelOutcome> call(std::span<const RoutedPayment> batch) override { return run(batch, Mode::pay); }
    std::vector<ChannelOutcome> query(std::span<const RoutedPayment> batch) override { return run(batch, Mode::query); }
    std::vector<ChannelOutcome> cancel(std::span<const RoutedPayment> batch) override { return run(batch, Mode::cancel); }

    // The event as the PSP signed it: the recorded webhook body and its signature headers,
    // checked with the webhook key. No time window or replay check here: the record may be
    // read long after it was written (a restart, a rebalance), and a resent genuine event
    // only repeats what the PSP said.
    std::optional<ChannelEvent> verify_event(const ChannelEvent& recorded) const override {
        std::string ts, sig;
        for (const auto& [k, v] : recorded.origin_auth) {
            if (k == kTimestampHeader) ts = v;
            else if (k == kSignatureHeader) sig = v;
        }
        if (recorded.origin.empty() || verify_signature(keys_, ts, sig, recorded.origin) != WebhookCheck::ok) return std::nullopt;
        auto ev = parse_webhook(recorded.origin);
        if (!ev) return std::nullopt;
        return ChannelEvent{ev->event_id, ev->payment_id, ev->root_id, ev->outcome, recorded.origin, recorded.origin_auth};
    }

private:
    std::vector<ChannelOutcome> run(std::span<const RoutedPayment> batch, Mode mode) {
        std::vector<ChannelOutcome> out(batch.size());
        if (batch.empty()) return out;
        const size_t workers = std::min(batch.size(), static_cast<size_t>(s_.max_connections));
        std::promise<void> done;
        size_t next = 0, finished = 0;
        asio::post(ioc_, [&] {
            for (size_t w = 0; w < workers; ++w)
                asio::co_spawn(ioc_, worker(batch, out, next, mode), [&](std::exception_ptr e) {
                    if (e) spdlog::error("connector {}: worker failed", s_.channel_id);
                    if (++finished == workers) done.set_value();
                });
        });
        done.get_future().wait();
        return out;
    }

    asio::awaitable<void> worker(std::span<const RoutedPayment> batch, std::vector<ChannelOutcome>& out, size_t& next,
                                 Mode mode) {
        for (;;) {
            const size_t i = next++;
            if (i >= batch.size()) co_return;
            ChannelOutcome o;
            if (mode == Mode::query)
                o = co_await status(batch[i]);
            else if (mode == Mode::cancel)
                o = co_await cancel_one(batch[i]);
            else
                o = co_await pay(batch[i]);
            out[i] = std::move(o);
        }
    }

    http::request<http::string_body> signed_request(http::verb verb, const std::string& target, std::string body,
                                                    const std::string& idempotency_key) const {
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, s_.server_name);
        req.set(http::field::content_type, "application/json");
        req.set("Idempotency-Key", idempotency_key);
        const auto ts = std::to_string(now_ms());
        req.set(kTimestampHeader, ts);
        req.set(kSignatureHeader, sign(s_.request_key, ts, body));
        req.keep_alive(true);
        req.body() = std::move(body);
        req.prepare_payload();
        return req;
    }

    asio::awaitable<ChannelOutcome> pay(const RoutedPayment& p) {
        Classified c;
        for (int attempt = 0;; ++attempt) {
            auto ex = co_await exchange(signed_request(http::verb::post, s_.base_path + "/v1/payments",
                                                       payment_body(p, s_.callback_url), p.request.payment_id));
            c = classify_answer(PspCall::payment, ex.delivery, static_cast<int>(ex.status), ex.body, ex.error);
            if (c.verdict != Verdict::retry) break;
            if (attempt >= s_.busy_retries) {
                c.verdict = Verdict::unknown;
                break;
            }
            // Key in use or rate limited: the same request again, later, on this channel.
            busy_retries_.Increment();
            const int64_t wait = std::min<int64_t>(ex.retry_after_ms >= 0 ? ex.retry_after_ms : s_.busy_retry_delay_ms * (attempt + 1),
                                                   s_.busy_retry_max_delay_ms);
            asio::steady_timer t(ioc_, std::chrono::milliseconds(wait));
            co_await t.async_wait(use);
        }
        if (c.verdict != Verdict::unknown) co_return c.outcome;
        unknown_.Increment();
        spdlog::debug("connector {}: {}: unknown outcome ({}); asking the PSP", s_.channel_id, p.request.payment_id, c.outcome.message);
        ChannelOutcome o = co_await status(p);
        if (o.kind == K::failed) o.message = c.outcome.message + "; " + o.message;
        co_return o;
    }

    asio::awaitable<ChannelOutcome> status(const RoutedPayment& p) {
        auto ex = co_await exchange(
            signed_request(http::verb::get, s_.base_path + "/v1/payments/" + p.request.payment_id, "", p.request.payment_id));
        co_return classify_answer(PspCall::status_query, ex.delivery, static_cast<int>(ex.status), ex.body, ex.error).outcome;
    }

    // Cancels a pending payment by idempotency key; an unclear answer is followed by one
    // last status query.
    asio::awaitable<ChannelOutcome> cancel_one(const RoutedPayment& p) {
        auto ex = co_await exchange(signed_request(http::verb::post, s_.base_path + "/v1/payments/" + p.request.payment_id + "/cancel",
                                                   "{}", p.request.payment_id + ":cancel"));
        auto c = classify_answer(PspCall::cancel, ex.delivery, static_cast<int>(ex.status), ex.body, ex.error);
        if (c.verdict != Verdict::unknown) co_return c.outcome;
        ChannelOutcome o = co_await status(p);
        if (o.kind == K::approved || o.kind == K::declined || o.kind == K::reversed) co_return o;
        co_return ChannelOutcome{K::failed, "unknown_outcome", c.outcome.message + "; " + o.message, "", ""};
    }

    asio::awaitable<std::unique_ptr<Stream>> connect(std::string& error) {
        auto s = std::make_unique<Stream>(ioc_, tls_);
        SSL* ssl = s->native_handle();
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (is_ip(s_.server_name)) {
            X509_VERIFY_PARAM_set1_ip_asc(param, s_.server_name.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl, s_.server_name.c_str());
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(param, s_.server_name.c_str(), 0);
        }
        auto& tcp_layer = beast::get_lowest_layer(*s);
        tcp_layer.expires_after(std::chrono::milliseconds(s_.connect_timeout_ms));
        auto [ec, ep] = co_await tcp_layer.async_connect(endpoints_, use);
        if (ec) {
            error = "connect: " + ec.message();
            co_return nullptr;
        }
        tcp_layer.socket().set_option(tcp::no_delay(true));
        auto [ec2] = co_await s->async_handshake(ssl::stream_base::client, use);
        if (ec2) {
            error = "tls handshake: " + ec2.message();
            co_return nullptr;
        }
        co_return s;
    }

    asio::awaitable<Exchange> exchange(http::request<http::string_body> req) {
        for (int attempt = 0;; ++attempt) {
            std::unique_ptr<Stream> s;
            const bool reused = !idle_.empty() && attempt == 0;
            if (reused) {
                s = std::move(idle_.back());
                idle_.pop_back();
            } else {
                std::string error;
                s = co_await connect(error);
                if (!s) co_return Exchange{Delivery::not_sent, 0, {}, error};
            }
            beast::get_lowest_layer(*s).expires_after(std::chrono::milliseconds(s_.timeout_ms));
            auto [ec, n] = co_await http::async_write(*s, req, use);
            if (ec) {
                if (reused) continue;  // stale keep-alive connection
                // Nothing written: it never left. Part of it written: the PSP may have it.
                co_return Exchange{n == 0 ? Delivery::not_sent : Delivery::no_answer, 0, {}, "write: " + ec.message()};
            }
            beast::flat_buffer buf;
            http::response_parser<http::string_body> parser;
            parser.body_limit(1 << 20);
            auto [ec2, n2] = co_await http::async_read(*s, buf, parser, use);
            if (ec2) {
                // Closed before a single byte of an answer on a connection from the pool: it
                // was closed while idle; send again on a fresh one (same Idempotency-Key).
                const bool nothing = buf.size() == 0 && !parser.got_some();
                if (reused && nothing && ec2 != beast::error::timeout) continue;
                co_return Exchange{Delivery::no_answer, 0, {}, "read: " + ec2.message()};
            }
            auto res = parser.release();
            if (res.keep_alive() && idle_.size() < static_cast<size_t>(s_.max_connections)) idle_.push_back(std::move(s));
            int64_t retry_after = -1;
            if (const auto ra = res[http::field::retry_after]; !ra.empty()) {
                int64_t secs = 0;
                auto [ptr, err] = std::from_chars(ra.data(), ra.data() + ra.size(), secs);
                if (err == std::errc() && ptr == ra.data() + ra.size() && secs >= 0 && secs < 86'400) retry_after = secs * 1000;
            }
            co_return Exchange{Delivery::answered, res.result_int(), std::move(res.body()), {}, retry_after};
        }
    }

    // --- webhook listener -------------------------------------------------------------

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_->async_accept(use);
            if (ec) {
                if (ec == asio::error::operation_aborted) co_return;
                continue;
            }
            auto slot = hook_cap_.take();
            if (!slot) {
                net::count_refused(listener_name_, "over_cap");
                boost::system::error_code ignored;
                sock.close(ignored);
                continue;
            }
            asio::co_spawn(hook_ioc_,
                           net::serve_connection(beast::tcp_stream(std::move(sock)), hook_tls_ ? &*hook_tls_ : nullptr,
                                                 s_.webhook_limits.header_timeout_ms, std::move(slot),
                                                 [this](auto& stream) { return serve(stream); }),
                           asio::detached);
        }
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& s) {
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            const auto end = co_await net::read_request(s, buf, parser, s_.webhook_limits);
            if (end != net::ReadEnd::request && end != net::ReadEnd::closed) net::count_refused(listener_name_, net::to_string(end));
            if (end == net::ReadEnd::closed || end == net::ReadEnd::header_timeout || end == net::ReadEnd::body_timeout) co_return;
            http::response<http::string_body> res;
            bool keep_alive = false;
            if (end == net::ReadEnd::request) {
                auto req = parser.release();
                res = co_await on_webhook(req);
                keep_alive = req.keep_alive();
            } else {
                res = end == net::ReadEnd::body_too_large     ? answer(http::status::payload_too_large, "too_large")
                      : end == net::ReadEnd::header_too_large ? answer(http::status::request_header_fields_too_large, "header_too_large")
                                                              : answer(http::status::bad_request, "bad_request");
            }
            res.keep_alive(keep_alive);
            res.prepare_payload();
            beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
            auto [ec2, n2] = co_await http::async_write(s, res, use);
            if (ec2 || !keep_alive) co_return;
        }
    }

    static http::response<http::string_body> answer(http::status st, std::string_view text) {
        http::response<http::string_body> res{st, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = "{\"result\":\"" + std::string(text) + "\"}";
        return res;
    }

    asio::awaitable<http::response<http::string_body>> on_webhook(const http::request<http::string_body>& req) {
        if (req.method() != http::verb::post || req.target() != "/webhooks/" + s_.channel_id)
            co_return answer(http::status::not_found, "not_found");
        std::string event_id;
        const auto ts = std::string(req[kTimestampHeader]);
        const auto check = verify_webhook(keys_, ts, req[kSignatureHeader], req.body(), now_ms(), replays_, &event_id);
        if (check != WebhookCheck::ok) {
            webhooks_[to_string(check)]->Increment();
            spdlog::warn("connector {}: webhook rejected: {}", s_.channel_id, to_string(check));
            co_return answer(check == WebhookCheck::replayed ? http::status::conflict
                             : check == WebhookCheck::malformed_body ? http::status::bad_request
                                                                     : http::status::unauthorized,
                             to_string(check));
        }
        auto ev = parse_webhook(req.body());
        if (!ev) {
            webhooks_["malformed_body"]->Increment();
            co_return answer(http::status::bad_request, "malformed_body");
        }
        if (ev->outcome.kind == K::pending) {
            webhooks_["not_final"]->Increment();
            co_return answer(http::status::ok, "ignored");
        }
        // Acknowledge only once the event is on the channel topic: otherwise the PSP
        // redelivers (with a fresh timestamp, so the replay check lets it through).
        bool recorded = false;
        if (sink_) {
            auto timer = std::make_shared<asio::steady_timer>(hook_ioc_, asio::steady_timer::time_point::max());
            auto result = std::make_shared<bool>(false);
            sink_(ChannelEvent{ev->event_id, ev->payment_id, ev->root_id, ev->outcome, req.body(),
                               {{kTimestampHeader, ts}, {kSignatureHeader, std::string(req[kSignatureHeader])}}},
                  [this, timer, result](bool ok) {
                      asio::post(hook_ioc_, [timer, result, ok] {
                          *result = ok;
                          timer->cancel();
                      });
                  });
            co_await timer->async_wait(use);
            recorded = *result;
        }
        if (!recorded) {
            replays_.forget(event_id + "@" + ts);
            webhooks_["unrecorded"]->Increment();
            co_return answer(http::status::service_unavailable, "not_recorded");
        }
        webhooks_["accepted"]->Increment();
        co_return answer(http::status::ok, "recorded");
    }

    HttpJsonSettings s_;
    asio::io_context ioc_{1};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
    ssl::context tls_;
    tcp::resolver::results_type endpoints_;
    std::vector<std::unique_ptr<Stream>> idle_;  // io thread only
    WebhookKeys keys_;
    // The webhook listener: its own io_context and thread.
    asio::io_context hook_ioc_{1};
    std::optional<ssl::context> hook_tls_;
    net::ConnectionCap hook_cap_{s_.webhook_limits.max_connections};
    std::string listener_name_ = "webhook:" + s_.channel_id;
    ReplayCache replays_;  // webhook thread only
    ChannelEventSink sink_;
    std::unique_ptr<tcp::acceptor> acceptor_;
    std::map<std::string, prometheus::Counter*> webhooks_;
    prometheus::Counter& unknown_;
    prometheus::Counter& busy_retries_;
    std::thread thread_;
    std::thread hook_thread_;
};

class HttpJsonFactory : public ConnectorFactory {
public:
    Builder prepare(const ChannelConfig& ch) const override {
        auto s = parse_http_json_settings(ch);
        return [s](const ConnectorContext&) mutable {
            load_http_json_keys(s);
            return std::make_unique<HttpJsonConnector>(s);
        };
    }
};

}  // namespace
}  // namespace turnout::psp

namespace turnout {
using HttpJsonFactory = psp::HttpJsonFactory;
TURNOUT_REGISTER_CONNECTOR("http_json", HttpJsonFactory);
}  // namespace turnout
