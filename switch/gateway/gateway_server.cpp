#include "gateway/gateway_server.hpp"

#include <filesystem>
#include "gateway/openapi_bundle.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "codec/request_decoder.hpp"
#include "codec/result_decoder.hpp"
#include "gateway/gateway_probe.hpp"
#include "gateway/idempotency.hpp"
#include "gateway/post_decision.hpp"
#include "gateway/rate_limiter.hpp"
#include "kafka/client.hpp"
#include "kafka/records.hpp"
#include "kafka/stage_runner.hpp"
#include "kafka/topic_reader.hpp"
#include "metrics/health.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"
#include "net/http_listener.hpp"
#include "domain/life_cycle.hpp"

namespace turnout::gateway {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kWriteTimeout = 10s;
constexpr auto kStateTimeout = 3s;
constexpr std::string_view kListener = "gateway";
const auto use_tuple = asio::as_tuple(asio::use_awaitable);

int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<http::field, std::string>> headers;
};

Reply error_reply(int status, std::string_view c, std::string_view message) {
    return {status, error_json(c, message), "application/json", {}};
}
Reply error_reply(const ApiError& e) {
    Reply r = error_reply(e.status, e.code, e.message);
    if (e.retry_after_s > 0) r.headers.emplace_back(http::field::retry_after, std::to_string(e.retry_after_s));
    return r;
}

std::optional<std::string_view> header(const http::request<http::string_body>& req, std::string_view name) {
    auto it = req.find(name);
    if (it == req.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
}

// state_url: http://host[:port][/base]
struct Url {
    std::string host, port, base;
};
Url parse_state_url(const Config& cfg) {
    if (cfg.gateway.state_url.empty())
        return {cfg.state.http_address, std::to_string(cfg.state.http_port), ""};
    std::string rest = cfg.gateway.state_url.substr(7);  // "http://"
    Url u;
    const auto slash = rest.find('/');
    if (slash != std::string::npos) {
        u.base = rest.substr(slash);
        rest = rest.substr(0, slash);
        while (!u.base.empty() && u.base.back() == '/') u.base.pop_back();
    }
    const auto colon = rest.rfind(':');
    u.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
    return u;
}

// A metric label from a small fixed set, whatever method a client sends.
std::string method_label(const http::request<http::string_body>& req) {
    switch (req.method()) {
        case http::verb::get:
        case http::verb::post:
        case http::verb::put:
        case http::verb::delete_:
        case http::verb::head:
        case http::verb::patch:
        case http::verb::options: return std::string(http::to_string(req.method()));
        default: return "other";
    }
}

// At most a few warnings a second: hostile traffic must not flood the log.
bool warn_budget() {
    static std::atomic<int64_t> second{0};
    static std::atomic<int> used{0};
    const int64_t s = mono_ms() / 1000;
    if (second.exchange(s) != s) used = 0;
    return ++used <= 5;
}

}  // namespace

// The document with the message schemas it refers to inlined (they sit in ../schemas next
// to docs/), so clients and tools need nothing else; empty when it cannot be built.
std::string load_openapi_document(const Config& cfg) {
    const std::filesystem::path doc(cfg.gateway.openapi_file);
    try {
        return turnout::gateway::bundle_openapi(doc.string(), (doc.parent_path() / ".." / "schemas").lexically_normal().string());
    } catch (const std::exception& e) {
        spdlog::warn("gateway: the OpenAPI document cannot be bundled: {}", e.what());
        return {};
    }
}

struct Gateway::Impl {
    Config cfg;
    ApiKeys keys;
    std::string instance;
    Url state;
    std::string openapi;

    std::mutex mu;  // limiter and book
    RateLimiter limiter;
    IdempotencyBook book;

    asio::io_context io{2};
    tcp::acceptor acceptor{io};
    std::optional<ssl::context> tls;
    net::ConnectionCap cap;
    int port = 0;
    std::vector<std::thread> io_threads;

    std::optional<kafka::Producer> producer;
    std::unique_ptr<kafka::TopicReader> results;
    std::atomic<bool> stop{false};
    std::shared_ptr<HealthCell> health = HealthBoard::get().add("gateway");
    std::thread producer_thread, consumer_thread;

    GatewayProbe probe;

    Impl(const Config& c, ApiKeys k, std::string inst)
        : cfg(c), keys(std::move(k)), instance(std::move(inst)), state(parse_state_url(c)),
          limiter(c.gateway.rate_per_second, c.gateway.burst), cap(c.gateway.limits.max_connections) {}

    // ---- Kafka ------------------------------------------------------------------------

    void notify(std::vector<Waiter> ws, const Signal& s) {
        for (auto& w : ws) w(s);
    }

    void on_delivery(const std::string& id, const kafka::Delivery& d) {
        if (!d.delivered) {
            spdlog::warn("gateway: request {} not published: {}", id, d.error);
            std::vector<Waiter> ws;
            {
                std::lock_guard lk(mu);
                ws = book.on_publish_failed(id);
            }
            notify(std::move(ws), {Signal::failed, {}});
        } else {
            std::lock_guard lk(mu);
            book.on_delivered(id);
        }
    }

    void start_kafka() {
        producer.emplace(cfg.kafka,
                         kafka::Properties{{"enable.idempotence", "true"},
                                           {"acks", "all"},
                                           {"linger.ms", "1"},
                                           {"message.timeout.ms", "30000"},
                                           {"message.max.bytes", std::to_string(std::max<size_t>(cfg.max_record_bytes + 4096, 1'000'000))}});
        // Broker reachability for /readyz comes from the reader's statistics.
        results = std::make_unique<kafka::TopicReader>(
            cfg.kafka, cfg.kafka.name_prefix + "turnout.gateway." + instance,
            kafka::Properties{{"fetch.wait.max.ms", "10"}, {"statistics.interval.ms", "5000"}},
            kafka::ReaderHooks{[this](BrokerState b) { health->broker(b, now_ms()); },
                               [this](const std::string& e) {
                                   if (warn_budget()) spdlog::warn("gateway: results consumer: {}", e);
                               }});
        // Every partition from its end at start: this gateway waits only for requests it
        // publishes from now on; anything older is answered by the state role.
        results->assign(results->end_positions({cfg.kafka.topics.results}));
        health->turned(now_ms());
        health->assigned(true);
        producer_thread = std::thread([this] {
            while (!stop) producer->poll(100);
        });
        consumer_thread = std::thread([this] { consume(); });
    }

    void consume() {
        while (!stop) {
            health->turned(now_ms());
            results->poll(100, [this](const kafka::Record& m) { on_result(m); });
        }
    }

    void on_result(const kafka::Record& m) {
        auto checked = decode_result_checked(m.value, m.key, now_ms());
        if (!checked.result) {
            kafka::count_invalid_result("gateway", checked.problem->field);
            if (warn_budget())
                spdlog::warn("gateway: result at {}:{} ignored: {}", m.partition, m.offset, checked.problem->message);
            return;
        }
        const auto& r = *checked.result;
        std::vector<Waiter> ws;
        Signal s;
        {
            std::lock_guard lk(mu);
            if (is_duplicate_answer(r)) {
                ws = book.on_duplicate(r.payment_id);
                s.kind = Signal::duplicate;
            } else {
                ws = book.on_result(r, std::string(m.value), mono_ms());
                s = {Signal::result, std::string(m.value)};
            }
        }
        notify(std::move(ws), s);
    }

    // Publishes the request keyed by its root id; false when librdkafka refuses it at once.
    bool publish(const PostAccepted& a, std::string_view body) {
        // A full local queue means the broker is not taking records: answered 503 at once
        // rather than blocking an HTTP thread.
        std::string why;
        const bool queued = producer->try_produce(
            {cfg.kafka.topics.requests, a.request.root_id(), std::string(body), {}},
            [this, id = a.request.payment_id](const kafka::Delivery& d) { on_delivery(id, d); }, why);
        if (!queued && warn_budget())
            spdlog::warn("gateway: request {} refused by the producer: {}", a.request.payment_id, why);
        return queued;
    }

    // ---- HTTP -------------------------------------------------------------------------

    void start_http() {
        const auto& g = cfg.gateway;
        if (!g.tls_cert_file.empty()) tls.emplace(net::server_tls_context(g.tls_cert_file, g.tls_key_file, "gateway.tls"));
        net::open_acceptor(acceptor, g.address, g.port, "gateway");
        port = acceptor.local_endpoint().port();
        accept();
        for (int i = 0; i < 2; ++i) io_threads.emplace_back([this] { io.run(); });
    }

    void accept() {
        acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (auto slot = cap.take()) {
                    auto ex = s.get_executor();
                    asio::co_spawn(ex,
                                   net::serve_connection(beast::tcp_stream(std::move(s)), tls ? &*tls : nullptr,
                                                         cfg.gateway.limits.header_timeout_ms, std::move(slot),
                                                         [this](auto& stream) { return session(stream); }),
                                   asio::detached);
                } else {
                    net::count_refused(kListener, "over_cap");
                    probe.request("-", "closed").Increment();
                    beast::error_code ignored;
                    s.close(ignored);
                }
            }
            accept();
        });
    }

    template <class Stream>
    asio::awaitable<void> session(Stream& stream) {
        const auto& limits = cfg.gateway.limits;
        beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            const auto end = co_await net::read_request(stream, buf, parser, limits);
            const auto started = std::chrono::steady_clock::now();
            Reply reply;
            std::string method = "-";
            bool close = false;
            if (end != net::ReadEnd::request && end != net::ReadEnd::closed) net::count_refused(kListener, net::to_string(end));
            if (end == net::ReadEnd::closed || end == net::ReadEnd::header_timeout || end == net::ReadEnd::body_timeout)
                co_return;  // nothing to answer
            if (end == net::ReadEnd::body_too_large) {
                auto& req = parser.get();
                method = method_label(req);
                PostInput in{header(req, "Authorization"), header(req, "Content-Type"), header(req, "Idempotency-Key"), {}, true};
                reply = route_too_large(req, in);
                close = true;
            } else if (end == net::ReadEnd::header_too_large) {
                reply = error_reply(431, code::header_too_large, "request line and headers over " + std::to_string(net::kHeaderLimit) + " bytes");
                close = true;
            } else if (end == net::ReadEnd::bad_request) {
                reply = error_reply(400, code::bad_request, "not a readable HTTP/1.1 request");
                close = true;
            } else {
                auto& req = parser.get();
                method = method_label(req);
                reply = co_await handle(req);
                close = !req.keep_alive();
            }
            if (reply.status >= 400 && reply.status != 404 && reply.status != 429 && warn_budget())
                spdlog::warn("gateway: {} answered {} {}", method, reply.status, reply.body.substr(0, 200));
            http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
            res.set(http::field::server, "turnout-gateway");
            res.set(http::field::content_type, reply.content_type);
            for (auto& [f, v] : reply.headers) res.set(f, v);
            res.keep_alive(!close);
            res.body() = std::move(reply.body);
            res.prepare_payload();
            beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
            auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
            probe.request(method, std::to_string(reply.status)).Increment();
            probe.latency.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            if (wec || close) co_return;
        }
    }

    Reply route_too_large(const http::request<http::string_body>& req, const PostInput& in) {
        const std::string_view target(req.target().data(), req.target().size());
        if (req.method() != http::verb::post || target.substr(0, target.find('?')) != "/v1/payments")
            return error_reply(413, code::too_large, "the body is over " + std::to_string(cfg.gateway.limits.max_body_bytes) + " bytes");
        PostDecision d;
        {
            std::lock_guard lk(mu);
            d = decide_post(in, keys, limiter, mono_ms(), static_cast<size_t>(cfg.gateway.limits.max_body_bytes));
        }
        return error_reply(*d.error);
    }

    asio::awaitable<Reply> handle(const http::request<http::string_body>& req) {
        std::string_view target(req.target().data(), req.target().size());
        target = target.substr(0, target.find('?'));
        constexpr std::string_view payments = "/v1/payments", one = "/v1/payments/";
        auto not_allowed = [](const char* allow) {
            Reply r = error_reply(405, code::method_not_allowed, std::string("allowed: ") + allow);
            r.headers.emplace_back(http::field::allow, allow);
            return r;
        };
        if (target == payments) {
            if (req.method() != http::verb::post) co_return not_allowed("POST");
            co_return co_await post_payment(req);
        }
        if (target.substr(0, one.size()) == one && target.size() > one.size() &&
            target.find('/', one.size()) == std::string_view::npos) {
            if (req.method() != http::verb::get) co_return not_allowed("GET");
            co_return co_await get_payment(req, target.substr(one.size()));
        }
        if (target == "/v1/openapi.yaml") {
            if (req.method() != http::verb::get) co_return not_allowed("GET");
            if (openapi.empty()) co_return error_reply(404, code::not_found, "no OpenAPI document configured");
            co_return Reply{200, openapi, "application/yaml", {}};
        }
        co_return error_reply(404, code::not_found, "no such resource; see GET /v1/openapi.yaml");
    }

    // GET <state_url>/payments/{id}: {status, body}; status 0 when the state role cannot be reached.
    asio::awaitable<std::pair<int, std::string>> state_get(std::string id) {
        auto ex = co_await asio::this_coro::executor;
        tcp::resolver resolver(ex);
        beast::tcp_stream stream(ex);
        stream.expires_after(kStateTimeout);
        auto [rec, eps] = co_await resolver.async_resolve(state.host, state.port, use_tuple);
        if (rec) co_return std::pair{0, rec.message()};
        auto [cec, ep] = co_await stream.async_connect(eps, use_tuple);
        if (cec) co_return std::pair{0, cec.message()};
        http::request<http::empty_body> req{http::verb::get, state.base + "/payments/" + id, 11};
        req.set(http::field::host, state.host);
        req.keep_alive(false);
        auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
        if (wec) co_return std::pair{0, wec.message()};
        beast::flat_buffer buf;
        http::response_parser<http::string_body> parser;
        parser.body_limit(4 << 20);
        auto [rdec, rn] = co_await http::async_read(stream, buf, parser, use_tuple);
        if (rdec) co_return std::pair{0, rdec.message()};
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        auto res = parser.release();
        co_return std::pair{static_cast<int>(res.result_int()), std::move(res.body())};
    }

    asio::awaitable<Reply> get_payment(const http::request<http::string_body>& req, std::string_view id) {
        std::optional<std::string> merchant;
        if (auto a = header(req, "Authorization"))
            if (auto key = bearer_token(*a)) merchant = keys.verify(*key);
        if (!merchant) co_return error_reply(401, code::unauthorized, "missing or unknown API key (Authorization: Bearer <key>)");
        {
            std::lock_guard lk(mu);
            if (auto v = limiter.take(*merchant, mono_ms()); !v.allowed) {
                ApiError e{429, std::string(code::rate_limited), "too many requests for this merchant; retry later", v.retry_after_s};
                co_return error_reply(e);
            }
        }
        const auto unknown = error_reply(404, code::unknown_payment, "no payment with this id for this merchant");
        if (!valid_payment_id(id)) co_return unknown;
        auto [status, body] = co_await state_get(std::string(id));
        if (status == 404) co_return unknown;
        if (status != 200) {
            if (warn_budget()) spdlog::warn("gateway: state role {}:{} answered {}: {}", state.host, state.port, status, body.substr(0, 200));
            co_return error_reply(503, code::state_unavailable, "the payment state cannot be read now; retry");
        }
        auto lc = decode_life_cycle(body);
        // Another merchant's payment is answered exactly like a payment that does not exist.
        if (!lc || lc->merchant_id != *merchant) co_return unknown;
        co_return Reply{200, std::move(body), "application/json", {}};
    }

    // One caller waiting for a payment's result: signals arrive from the Kafka threads and
    // are handed over on the connection's strand.
    struct Slot {
        explicit Slot(asio::any_io_executor ex) : timer(std::move(ex)) {}
        asio::steady_timer timer;
        std::deque<Signal> signals;
    };

    asio::awaitable<Reply> post_payment(const http::request<http::string_body>& req) {
        PostInput in{header(req, "Authorization"), header(req, "Content-Type"), header(req, "Idempotency-Key"), req.body(), false};
        PostDecision d;
        {
            std::lock_guard lk(mu);
            d = decide_post(in, keys, limiter, mono_ms(), cfg.max_record_bytes);
        }
        if (d.error) co_return error_reply(*d.error);
        const auto& a = *d.accepted;
        const auto& id = a.request.payment_id;

        auto slot = std::make_shared<Slot>(co_await asio::this_coro::executor);
        Waiter waiter = [slot](const Signal& s) {
            asio::post(slot->timer.get_executor(), [slot, s] {
                slot->signals.push_back(s);
                slot->timer.cancel();
            });
        };
        Admit admit;
        {
            std::lock_guard lk(mu);
            admit = book.admit(a, mono_ms(), waiter);
        }
        const auto conflict = error_reply(409, code::idempotency_conflict,
                                          "this Idempotency-Key was used for a different request");
        switch (admit.what) {
            case Admission::conflict: co_return conflict;
            case Admission::answered: co_return Reply{200, std::move(admit.json), "application/json", {}};
            case Admission::publish:
                if (!publish(a, req.body())) {
                    std::vector<Waiter> ws;
                    {
                        std::lock_guard lk(mu);
                        ws = book.on_publish_failed(id);
                    }
                    notify(std::move(ws), {Signal::failed, {}});
                }
                break;
            case Admission::join:
                // Answered long ago (the result left the cache): look at the stored payment.
                if (admit.decided) slot->signals.push_back({Signal::duplicate, {}});
                break;
        }

        probe.waiting.Increment();
        struct Unwait {
            prometheus::Gauge& g;
            ~Unwait() { g.Decrement(); }
        } unwait{probe.waiting};
        auto leave = [&] {
            std::lock_guard lk(mu);
            book.leave(id, admit.waiter);
        };
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.gateway.wait_ms);
        bool state_checked = false;
        for (;;) {
            if (slot->signals.empty()) {
                if (std::chrono::steady_clock::now() >= deadline) break;
                slot->timer.expires_at(deadline);
                co_await slot->timer.async_wait(use_tuple);
                continue;
            }
            Signal s = std::move(slot->signals.front());
            slot->signals.pop_front();
            if (s.kind == Signal::result) co_return Reply{200, std::move(s.json), "application/json", {}};
            if (s.kind == Signal::failed)
                co_return error_reply(503, code::kafka_unavailable, "the request could not be published; retry with the same Idempotency-Key");
            if (state_checked) continue;
            // The payment_id was used before this request: answer from what is stored.
            state_checked = true;
            {
                std::lock_guard lk(mu);
                if (const auto* c = book.cached(id, mono_ms())) {
                    book.leave(id, admit.waiter);
                    co_return Reply{200, *c, "application/json", {}};
                }
            }
            auto [status, body] = co_await state_get(id);
            if (status != 200) continue;  // not stored yet: its result may still come
            auto lc = decode_life_cycle(body);
            if (!lc) continue;
            const auto same = compare_stored(a.request, *lc);
            if (same == Sameness::different) {
                leave();
                std::lock_guard lk(mu);
                book.forget(id);
                co_return conflict;
            }
            if (same == Sameness::same) {
                leave();
                co_return Reply{200, std::move(body), "application/json", {}};
            }
        }
        leave();
        bool delivered;
        {
            std::lock_guard lk(mu);
            delivered = book.delivered(id);
        }
        if (!delivered)
            co_return error_reply(503, code::kafka_unavailable,
                                  "Kafka has not acknowledged the request yet; retry with the same Idempotency-Key");
        Reply r{202, "{\"payment_id\":\"" + id + "\",\"status\":\"pending\"}", "application/json", {}};
        r.headers.emplace_back(http::field::location, "/v1/payments/" + id);
        co_return r;
    }

    void shutdown() {
        asio::post(io, [this] {
            beast::error_code ec;
            acceptor.close(ec);
        });
        io.stop();
        for (auto& t : io_threads)
            if (t.joinable()) t.join();
        stop = true;
        if (consumer_thread.joinable()) consumer_thread.join();
        if (producer) producer->flush(2000);
        if (producer_thread.joinable()) producer_thread.join();
        producer.reset();
        results.reset();
        // Waiters hold timers of the io_context: drop them before it goes.
        std::lock_guard lk(mu);
        book = IdempotencyBook{};
    }
};

Gateway::Gateway(const Config& cfg, ApiKeys keys, const std::string& instance)
    : impl_(std::make_unique<Impl>(cfg, std::move(keys), instance)) {
    impl_->openapi = load_openapi_document(cfg);
    if (impl_->openapi.empty()) spdlog::warn("gateway: {} cannot be read; GET /v1/openapi.yaml answers 404", cfg.gateway.openapi_file);
    impl_->start_kafka();
    try {
        impl_->start_http();
    } catch (...) {
        impl_->shutdown();
        throw;
    }
    spdlog::info("gateway: serving {}://{}:{} for {} API key(s), state at {}:{}", impl_->tls ? "https" : "http",
                 cfg.gateway.address, impl_->port, impl_->keys.size(), impl_->state.host, impl_->state.port);
}

Gateway::~Gateway() { impl_->shutdown(); }

int Gateway::port() const { return impl_->port; }

}  // namespace turnout::gateway
