// The HTTP payments gateway against the real broker and the whole switch: requests over
// real sockets, one channel execution however many times a key is posted, merchants kept
// apart, idempotency conflicts, refused keys and bodies.
#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <fstream>
#include <latch>
#include <map>
#include <set>
#include <thread>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "gateway/api_keys.hpp"
#include "gateway/gateway_server.hpp"
#include "harness.hpp"
#include "requests_kit.hpp"
#include "security/card_vault.hpp"
#include "domain/life_cycle.hpp"
#include "state/status_server.hpp"

using namespace turnout;
using namespace turnout::it;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

const std::string kKeyA = "tk_it_gateway_merchant_a";
const std::string kKeyB = "tk_it_gateway_merchant_b";

struct Answer {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;
};

// One request on its own connection.
Answer call(int port, http::verb method, const std::string& target, const std::map<std::string, std::string>& headers,
            const std::string& body = {}) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == http::verb::post) {
        req.body() = body;
        req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(4 << 20);
    beast::error_code ec;
    http::read(stream, buf, parser, ec);
    Answer a;
    if (ec) return a;
    auto res = parser.release();
    a.status = static_cast<int>(res.result_int());
    a.body = res.body();
    for (const auto& f : res) a.headers[std::string(f.name_string())] = std::string(f.value());
    return a;
}

Answer post(int port, const std::string& key, const std::string& idempotency_key, const std::string& body) {
    return call(port, http::verb::post, "/v1/payments",
                {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}, {"Idempotency-Key", idempotency_key}},
                body);
}

Answer get(int port, const std::string& key, const std::string& target) {
    return call(port, http::verb::get, target, {{"Authorization", "Bearer " + key}});
}

std::string error_code_of(const Answer& a) {
    const auto v = boost::json::parse(a.body);
    return std::string(v.as_object().at("error").as_string());
}

// The channel executions of `id` in the run's ledgers.
int executions(const fs::path& dir, const std::string& id) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().rfind("ledger-", 0) == 0) {
            std::ifstream f(e.path());
            for (std::string line; std::getline(f, line);) n += line.substr(0, line.find(' ')) == id;
        }
    return n;
}

Config gateway_config(const Config& cfg, const fs::path& dir) {
    Config g = cfg;
    g.gateway.port = 0;
    g.gateway.wait_ms = 30000;  // the first payments of a fresh switch wait for its groups to form
    g.gateway.state_url = "http://127.0.0.1:" + std::to_string(bound_status_port());
    g.gateway.openapi_file = (dir / "openapi.yaml").string();
    return g;
}

gateway::ApiKeys test_keys() {
    return gateway::ApiKeys({{"m-gw-a", gateway::sha256_hex_of(kKeyA)}, {"m-gw-b", gateway::sha256_hex_of(kKeyB)}});
}

}  // namespace

TEST_CASE("gateway: coalesced POSTs, merchants kept apart, conflicts, refused keys and bodies") {
    auto run = make_run("gw");
    const CardVault vault(load_vault_keys(run.cfg.security.keys_file));
    const int stale_port = bound_status_port();  // of an earlier run in this process
    SwitchThread sw(run.cfg, vault);
    for (const int64_t until = now_ms() + 30000; bound_status_port() == stale_port && now_ms() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(bound_status_port() > 0);
    REQUIRE(bound_status_port() != stale_port);
    std::ofstream(run.dir / "openapi.yaml") << "openapi: 3.1.0\n";
    const auto gcfg = gateway_config(run.cfg, run.dir);
    gateway::Gateway gw(gcfg, test_keys(), "0");
    const int port = gw.port();
    REQUIRE(port > 0);

    SUBCASE("50 concurrent POSTs of one key: one execution, one final result, 50 equal answers") {
        const auto req = sale(run.id + "-C", "m-gw-a", 1234);
        const auto body = encode_request(req);
        std::vector<Answer> answers(50);
        std::latch go(50);
        std::vector<std::thread> clients;
        for (size_t i = 0; i < answers.size(); ++i)
            clients.emplace_back([&, i] {
                go.arrive_and_wait();
                answers[i] = post(port, kKeyA, req.payment_id, body);
            });
        for (auto& t : clients) t.join();
        std::set<std::string> bodies;
        int ok = 0;
        for (const auto& a : answers) {
            ok += a.status == 200;
            bodies.insert(a.body);
        }
        CHECK(ok == 50);
        CHECK(bodies.size() == 1);
        const auto answered = decode_result(*bodies.begin());
        REQUIRE(answered);
        CHECK(answered->payment_id == req.payment_id);
        CHECK(answered->status == ResultStatus::approved);
        CHECK(answered->merchant_id == "m-gw-a");

        CHECK(executions(run.dir, req.payment_id) == 1);
        const auto by_id = await_results(run.cfg, {req.payment_id});
        CHECK(outcomes(by_id, req.payment_id) == "approved");  // published once: not even a duplicate answer

        // Posted again later: answered from the result, no second publish or execution.
        const auto again = post(port, kKeyA, req.payment_id, body);
        CHECK(again.status == 200);
        CHECK(again.body == *bodies.begin());

        // Same key, another body → 409, in this gateway (its key table) ...
        auto changed = req;
        changed.amount.value = 999;
        const auto conflict = post(port, kKeyA, req.payment_id, encode_request(changed));
        CHECK(conflict.status == 409);
        CHECK(error_code_of(conflict) == "idempotency_conflict");
        // ... and in a second gateway that never saw the key: the router answers
        // duplicate_request, the gateway compares the body with the stored payment.
        auto g2cfg = gcfg;
        g2cfg.gateway.wait_ms = 15000;
        gateway::Gateway gw2(g2cfg, test_keys(), "1");
        const auto conflict2 = post(gw2.port(), kKeyA, req.payment_id, encode_request(changed));
        CHECK(conflict2.status == 409);
        CHECK(error_code_of(conflict2) == "idempotency_conflict");
        const auto same2 = post(gw2.port(), kKeyA, req.payment_id, body);
        CHECK(same2.status == 200);
        CHECK(same2.body.find(req.payment_id) != std::string::npos);
        CHECK(executions(run.dir, req.payment_id) == 1);
        const auto all = await_results(run.cfg, {req.payment_id}, 3);
        CHECK(outcomes(all, req.payment_id) == "approved duplicate_request duplicate_request");
    }

    SUBCASE("merchant A cannot read merchant B's payment; B can") {
        const auto req = sale(run.id + "-B", "m-gw-b", 2500);
        const auto created = post(port, kKeyB, req.payment_id, encode_request(req));
        REQUIRE(created.status == 200);
        Answer by_b;
        for (const int64_t until = now_ms() + 30000; now_ms() < until;) {
            by_b = get(port, kKeyB, "/v1/payments/" + req.payment_id);
            if (by_b.status == 200) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        REQUIRE(by_b.status == 200);
        const auto lc = decode_life_cycle(by_b.body);
        REQUIRE(lc);
        CHECK(lc->merchant_id == "m-gw-b");
        CHECK(lc->amount == 2500);
        const auto by_a = get(port, kKeyA, "/v1/payments/" + req.payment_id);
        CHECK(by_a.status == 404);
        CHECK(error_code_of(by_a) == "unknown_payment");
        // Exactly the answer for a payment that does not exist.
        const auto nobody = get(port, kKeyA, "/v1/payments/" + run.id + "-nobody");
        CHECK(nobody.status == 404);
        CHECK(nobody.body == by_a.body);
        // A's key cannot create a payment for B either.
        const auto forged = post(port, kKeyA, req.payment_id + "-2", encode_request(sale(req.payment_id + "-2", "m-gw-b")));
        CHECK(forged.status == 403);
        CHECK(error_code_of(forged) == "merchant_mismatch");
    }

    SUBCASE("refused: bad keys, oversize bodies, invalid requests, unknown paths") {
        const auto req = sale(run.id + "-R", "m-gw-a");
        const auto body = encode_request(req);
        const auto bad = post(port, "tk_not_a_key", req.payment_id, body);
        CHECK(bad.status == 401);
        CHECK(error_code_of(bad) == "unauthorized");
        const auto none = call(port, http::verb::post, "/v1/payments",
                               {{"Content-Type", "application/json"}, {"Idempotency-Key", req.payment_id}}, body);
        CHECK(none.status == 401);
        CHECK(get(port, "tk_not_a_key", "/v1/payments/" + req.payment_id).status == 401);

        auto big = body;
        big.insert(big.size() - 1, std::string(run.cfg.max_record_bytes, ' '));
        const auto large = post(port, kKeyA, req.payment_id, big);
        CHECK(large.status == 413);
        CHECK(error_code_of(large) == "too_large");

        auto bad_amount = req;
        bad_amount.amount.currency = "XXZ";
        const auto invalid = post(port, kKeyA, req.payment_id, encode_request(bad_amount));
        CHECK(invalid.status == 400);
        CHECK(error_code_of(invalid) == "unknown_currency");
        const auto mismatch = post(port, kKeyA, "other-key", body);
        CHECK(mismatch.status == 400);
        CHECK(error_code_of(mismatch) == "idempotency_key_mismatch");
        // None of these reached Kafka: nothing executed.
        CHECK(executions(run.dir, req.payment_id) == 0);

        CHECK(get(port, kKeyA, "/v1/nothing").status == 404);
        CHECK(error_code_of(get(port, kKeyA, "/v1/nothing")) == "not_found");
        const auto wrong = call(port, http::verb::delete_, "/v1/payments", {{"Authorization", "Bearer " + kKeyA}});
        CHECK(wrong.status == 405);
        CHECK(error_code_of(wrong) == "method_not_allowed");
        const auto doc = call(port, http::verb::get, "/v1/openapi.yaml", {});
        CHECK(doc.status == 200);
        // The document as bundled (this test's minimal source has no schema references).
        CHECK(doc.body.find("openapi: \"3.1.0\"") != std::string::npos);
        CHECK(doc.body.find("../schemas") == std::string::npos);

        // Hostile clients: garbage and an endless header block are answered and closed; the
        // gateway goes on serving.
        {
            asio::io_context io;
            asio::ip::tcp::socket s(io);
            s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
            asio::write(s, asio::buffer(std::string("\x01\x02garbage\r\n\r\n")));
            std::string reply(256, '\0');
            beast::error_code ec;
            const auto n = s.read_some(asio::buffer(reply), ec);
            CHECK(std::string_view(reply.data(), n).substr(0, 12) == "HTTP/1.1 400");
        }
        {
            asio::io_context io;
            asio::ip::tcp::socket s(io);
            s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
            std::string head = "GET /v1/payments/x HTTP/1.1\r\nHost: x\r\n";
            for (int i = 0; i < 400; ++i) head += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'f') + "\r\n";
            beast::error_code ec;
            asio::write(s, asio::buffer(head), ec);
            std::string reply(256, '\0');
            const auto n = s.read_some(asio::buffer(reply), ec);
            CHECK(std::string_view(reply.data(), n).substr(0, 12) == "HTTP/1.1 431");
        }
        CHECK(get(port, kKeyA, "/v1/payments/" + run.id + "-nobody").status == 404);
    }
    SUBCASE("TLS: with a certificate and key the gateway speaks HTTPS") {
        const auto tls_dir = run.dir / "tls";
        const std::string cmd = kSource + "/scripts/tls-ca --dir " + tls_dir.string() + " >/dev/null";
        REQUIRE(std::system(cmd.c_str()) == 0);
        auto tcfg = gcfg;
        tcfg.gateway.tls_cert_file = (tls_dir / "broker.pem").string();
        tcfg.gateway.tls_key_file = (tls_dir / "broker.key").string();
        gateway::Gateway tgw(tcfg, test_keys(), "tls");

        asio::io_context io;
        asio::ssl::context ctx(asio::ssl::context::tls_client);
        ctx.load_verify_file((tls_dir / "ca.pem").string());
        ctx.set_verify_mode(asio::ssl::verify_peer);
        beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
        stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
        beast::get_lowest_layer(stream).connect(
            asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(tgw.port())));
        stream.handshake(asio::ssl::stream_base::client);
        http::request<http::string_body> req{http::verb::get, "/v1/payments/" + run.id + "-nobody", 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::authorization, "Bearer " + kKeyA);
        http::write(stream, req);
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(stream, buf, res);
        CHECK(res.result_int() == 404);
        CHECK(res.body().find("unknown_payment") != std::string::npos);

        // Plain HTTP to the TLS port gets no HTTP answer.
        const auto plain = get(tgw.port(), kKeyA, "/v1/payments/x");
        CHECK(plain.status == 0);
    }
    CHECK(sw.stop() == 0);
}
