// Hostile and careless input on the real broker, card data never in clear, and Kafka over TLS:
//  - the bad-input corpus (test/data/bad-requests) mixed with good requests through the switch;
//  - a load through `turnout all` as a child process, then every record of every topic but
//    payments.requests, every log line and every file of the run scanned for the PANs sent;
//  - the whole pipeline on a TLS listener (scripts/kafka-local --tls; test/integration/tls_test.sh).
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "app/roles.hpp"
#include "codec/messages.hpp"
#include "harness.hpp"
#include "kafka/records.hpp"
#include "loadgen/loadgen.hpp"
#include "security/card_vault.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

struct BadCase {
    std::string name, reason, key, bytes;
    bool result = false;
    std::string trace_id;  // 32 hex digits; the DLQ record and the result carry it on
};

const fs::path kCorpus = fs::path(kSource) / "test" / "data" / "bad-requests";

std::vector<BadCase> load_corpus() {
    std::vector<BadCase> out;
    std::ifstream f(kCorpus / "MANIFEST.tsv");
    for (std::string line; std::getline(f, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        BadCase c;
        std::string result;
        std::getline(ss, c.name, '\t');
        std::getline(ss, c.reason, '\t');
        std::getline(ss, result, '\t');
        std::getline(ss, c.key, '\t');
        c.result = result == "yes";
        c.bytes = read_file(kCorpus / (c.name + ".json"));
        char trace[33];
        std::snprintf(trace, sizeof trace, "bad0%028zx", out.size() + 1);
        c.trace_id = trace;
        out.push_back(std::move(c));
    }
    return out;
}

std::string trace_of(const std::string& traceparent) {
    return traceparent.size() >= 35 ? traceparent.substr(3, 32) : std::string();
}

// A sale the simulator approves (amount ends in 00), each on a card of its own so that no
// velocity rule of the shipped config declines it.
std::string good_request(const std::string& id, int n) {
    // Digits that look like a real card's, so that the PAN scan cannot meet them by chance in
    // the zero-padded numbers of a fixed-width clearing file.
    std::mt19937_64 digits(static_cast<uint64_t>(n) + 1);
    char body[16];
    std::snprintf(body, sizeof body, "4539%011llu", static_cast<unsigned long long>(digits() % 100000000000ULL));
    std::string pan = body;
    for (char check = '0'; check <= '9'; ++check)
        if (luhn_valid(pan + check)) {
            pan += check;
            break;
        }
    return R"({"payment_id":")" + id + R"(","type":"sale","merchant":{"id":"m-good"},"amount":{"value":)" +
           std::to_string(1000 + 100 * (n % 50)) +
           R"(,"currency":"EUR"},"instrument":{"kind":"card","pan":")" + pan +
           R"(","expiry":"2812"},"created_at":"2026-11-26T06:33:25.123Z"})";
}

// Publishes every corpus case (with its key, a traceparent naming the case) between good
// requests, then `tail` more good requests after the last bad one. Returns the good ids.
std::vector<std::string> publish_mix(const Config& cfg, const std::vector<BadCase>& corpus, const std::string& run,
                                     int tail) {
    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
    std::vector<std::string> good;
    auto send_good = [&] {
        const std::string id = run + "-good-" + std::to_string(good.size());
        REQUIRE(producer.produce({cfg.kafka.topics.requests, id, good_request(id, int(good.size())), {}}));
        good.push_back(id);
    };
    for (const auto& c : corpus) {
        send_good();
        kafka::OutRecord r{cfg.kafka.topics.requests, c.key == "id" ? "bad-" + c.name : std::string(), c.bytes,
                           {{"traceparent", "00-" + c.trace_id + "-00f067aa0ba902b7-01"}}};
        r.null_key = c.key == "null";
        r.empty_value = c.bytes.empty();  // empty, as the corpus case says, not null
        REQUIRE_MESSAGE(producer.produce(r), c.name);
    }
    for (int i = 0; i < tail; ++i) send_good();
    REQUIRE(producer.flush(30000));
    return good;
}

// Reads results and the DLQ until every good id and every corpus case is accounted for.
std::vector<Consumed> await_outcomes(const Config& cfg, const std::vector<std::string>& good,
                                     const std::vector<BadCase>& corpus) {
    const auto& t = cfg.kafka.topics;
    size_t want_results = good.size(), want_dlq = corpus.size();
    for (const auto& c : corpus) want_results += c.result;
    std::vector<Consumed> records;
    const int64_t deadline = now_ms() + 120000;
    while (now_ms() < deadline) {
        records = read_all(cfg, {t.results, t.dlq});
        size_t results = 0, dlq = 0;
        for (const auto& r : records) (r.topic == t.dlq ? dlq : results)++;
        if (results >= want_results && dlq >= want_dlq) break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return records;
}

std::optional<SealedData> sealed_of(const std::string& value) {
    boost::json::error_code ec;
    auto doc = boost::json::parse(value, ec);
    if (ec || !doc.is_object()) return std::nullopt;
    auto* s = doc.as_object().if_contains("sealed");
    if (!s || !s->is_object()) return std::nullopt;
    auto str = [&](const char* k) {
        auto* v = s->as_object().if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    return SealedData{str("key_id"), str("nonce"), str("ciphertext"), str("aad")};
}

// Checks the outcome of a corpus run: each case in the DLQ once with its reason and intact
// (sealed) bytes, a rejected result exactly where the payment_id is readable, and exactly
// one result for every good request.
void check_outcomes(const Config& cfg, const CardVault& vault, const std::vector<BadCase>& corpus,
                    const std::vector<std::string>& good, const std::vector<Consumed>& records) {
    const auto& t = cfg.kafka.topics;
    std::map<std::string, const BadCase*> by_trace;
    for (const auto& c : corpus) by_trace[c.trace_id] = &c;
    std::map<std::string, int> dlq_of, results_of, good_results;
    for (const auto& r : records) {
        if (r.topic == t.dlq) {
            auto it = by_trace.find(trace_of(r.header("traceparent")));
            if (it == by_trace.end()) {
                FAIL_CHECK("a DLQ record that is no corpus case, reason " << r.header("turnout.error.reason"));
                continue;
            }
            const BadCase& c = *it->second;
            CAPTURE(c.name);
            ++dlq_of[c.name];
            CHECK(r.header("turnout.error.reason") == c.reason);
            CHECK(r.header("turnout.error.stage") == "router");
            CHECK(r.header("turnout.error.topic") == t.requests);
            CHECK(!r.header("turnout.error.partition").empty());
            CHECK(!r.header("turnout.error.offset").empty());
            CHECK(r.key == (c.key == "id" ? "bad-" + c.name : std::string()));
            // Sealed, never in clear; the key holder gets the exact original bytes back — of a
            // record larger than any request, its first max_record_bytes and the whole's digest.
            const auto sealed = sealed_of(r.value);
            REQUIRE(sealed);
            if (c.bytes.size() <= cfg.max_record_bytes) {
                CHECK(vault.open(*sealed, {kDlqField, {}}) == c.bytes);
            } else {
                CHECK(vault.open(*sealed, {kDlqField, {}}) == c.bytes.substr(0, cfg.max_record_bytes));
                CHECK(r.value.find("\"sha256\":\"" + kafka::sha256_hex_of(c.bytes) + "\"") != std::string::npos);
                CHECK(r.value.find("\"original_bytes\":" + std::to_string(c.bytes.size())) != std::string::npos);
            }
            continue;
        }
        auto res = decode_result(r.value);
        REQUIRE(res);
        if (auto it = by_trace.find(trace_of(r.header("traceparent"))); it != by_trace.end()) {
            CAPTURE(it->second->name);
            ++results_of[it->second->name];
            CHECK(res->status == ResultStatus::rejected);
            CHECK(res->reason.code == it->second->reason);
        } else {
            ++good_results[res->payment_id];
            CAPTURE(res->reason.code);
            CHECK(res->status == ResultStatus::approved);
        }
    }
    int dlq_wrong = 0, result_wrong = 0;
    for (const auto& c : corpus) {
        if (dlq_of[c.name] != 1) {
            ++dlq_wrong;
            MESSAGE(c.name << ": " << dlq_of[c.name] << " DLQ records");
        }
        if (results_of[c.name] != (c.result ? 1 : 0)) {
            ++result_wrong;
            MESSAGE(c.name << ": " << results_of[c.name] << " rejected results");
        }
    }
    CHECK(dlq_wrong == 0);
    CHECK(result_wrong == 0);
    int good_wrong = 0;
    for (const auto& id : good) good_wrong += good_results[id] != 1;
    CHECK(good_results.size() == good.size());
    CHECK(good_wrong == 0);
}

// Every PAN of `text`, in any digit run, also when written with spaces or dashes between
// digit groups. `where` names the place for the failure message.
int count_pans(const std::set<std::string>& pans, std::string_view text, const std::string& where,
               std::vector<std::string>& found) {
    int hits = 0;
    auto scan = [&](std::string_view v) {
        for (size_t i = 0; i < v.size();) {
            size_t j = i;
            while (j < v.size() && v[j] >= '0' && v[j] <= '9') ++j;
            for (size_t a = i; j - i >= 12 && a + 12 <= j; ++a)
                for (size_t len = 12; a + len <= j && len <= 19; ++len)
                    if (pans.count(std::string(v.substr(a, len)))) {
                        ++hits;
                        if (found.size() < 20) found.push_back(where + ": " + mask_pan(v.substr(a, len)));
                    }
            i = j == i ? i + 1 : j;
        }
    };
    scan(text);
    // The same text with single spaces and dashes between digits taken out.
    std::string joined;
    joined.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if ((c == ' ' || c == '-') && i > 0 && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
            std::isdigit(static_cast<unsigned char>(text[i + 1])))
            continue;
        joined += c;
    }
    if (joined.size() != text.size()) scan(joined);
    return hits;
}

// Requests that carry a card number where none belongs, each otherwise valid: in a metadata
// value and customer.id (masked by the router, the payment goes on), as a metadata key and
// as a card token (refused). Returns the card numbers used (digits only) and the payment_ids.
std::pair<std::set<std::string>, std::vector<std::string>> publish_free_text_pans(const Config& cfg,
                                                                                  const std::string& run) {
    auto pan_of = [](int n, const char* prefix = "5425") {
        std::string pan = prefix + std::to_string(23000000000 + 7919 * n);
        for (char check = '0'; check <= '9'; ++check)
            if (luhn_valid(pan + check)) return pan + check;
        return pan;
    };
    std::set<std::string> pans;
    std::vector<std::string> ids;
    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
    const std::string head = R"(","type":"sale","amount":{"value":1000,"currency":"EUR"},)";
    const std::string tail = R"("created_at":"2026-11-26T06:33:25.123Z"})";
    for (int n = 0; n < 4; ++n) {
        // Each payment on a card of its own, so no velocity rule declines it.
        const std::string card = R"("instrument":{"kind":"card","pan":")" + pan_of(n, "4539") + R"(","expiry":"2812"},)";
        const std::string pan = pan_of(n), id = run + "-freetext-" + std::to_string(n);
        const std::string grouped = pan.substr(0, 4) + " " + pan.substr(4, 4) + " " + pan.substr(8, 4) + " " + pan.substr(12);
        std::string body = R"({"payment_id":")" + id + head;
        switch (n) {
            case 0: body += R"("merchant":{"id":"m-good"},)" + card + R"("metadata":{"note":"card )" + pan + R"("},)"; break;
            case 1: body += R"("merchant":{"id":"m-good"},)" + card + R"("customer":{"id":")" + grouped + R"("},)"; break;
            case 2: body += R"("merchant":{"id":"m-good"},)" + card + R"("metadata":{")" + pan + R"(":"x"},)"; break;
            default:
                body += R"("merchant":{"id":"m-good"},"instrument":{"kind":"card_token","token":")" + pan + R"("},)";
        }
        body += tail;
        REQUIRE(producer.produce({cfg.kafka.topics.requests, id, body, {}}));
        pans.insert(pan);
        ids.push_back(id);
    }
    REQUIRE(producer.flush(30000));
    return {pans, ids};
}

// The run's topics (its name prefix), as the broker lists them.
std::vector<std::string> run_topics(const Config& cfg, const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& t : kafka::Producer(cfg.kafka, {}).topics())
        if (t.rfind(prefix, 0) == 0) out.push_back(std::move(t));
    return out;
}

}  // namespace

TEST_CASE("hostile input: every bad-input case dead-lettered with its reason, good requests answered once") {
    const std::string run = "hi" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const Config cfg = isolated_config(run, dir);
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    const auto corpus = load_corpus();
    REQUIRE(corpus.size() >= 60);

    std::atomic<bool> stop{false};
    std::atomic<bool> roles_ended{false};
    int roles_rc = -1;
    std::thread roles([&] {
        roles_rc = run_roles(cfg, vault, all_roles(cfg), "0", stop);
        roles_ended = true;
    });
    struct StopRoles {
        std::atomic<bool>& stop;
        std::thread& t;
        ~StopRoles() {
            stop = true;
            if (t.joinable()) t.join();
        }
    } stop_roles{stop, roles};

    const auto good = publish_mix(cfg, corpus, run, 50);
    const auto records = await_outcomes(cfg, good, corpus);
    // The workers kept running through all of it: nothing ended before the stop.
    CHECK_FALSE(roles_ended.load());
    stop = true;
    roles.join();
    CHECK(roles_rc == 0);
    check_outcomes(cfg, vault, corpus, good, records);
}

// With `hsm`, the keys live in a SoftHSM2 token of the run (security.key_provider: pkcs11),
// made with `turnout keys init` as an operator would; the switch processes reach it through
// SOFTHSM2_CONF.
void pan_leak_scan(bool hsm) {
    const std::string run = (hsm ? "plh" : "pl") + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    std::string yaml = isolated_yaml(run, dir);
    const fs::path config = dir / "turnout.yaml";
    if (hsm) {
        use_softhsm_token(yaml, dir, "turnout-it");
        std::ofstream(config) << yaml;
        init_softhsm_keys(config, dir);
    }
    std::ofstream(config) << yaml;
    const Config cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);
    const auto corpus = load_corpus();

    // The switch as its own process, logging everything it would log at debug level.
    const std::string bootstrap = cfg.kafka.bootstrap_servers;
    ::setenv("TURNOUT_BOOTSTRAP", bootstrap.c_str(), 1);
    const pid_t sw = spawn_turnout({"--log-level", "debug", "all", "--config", config.string(), "--instance", "0",
                            "--metrics-port", "0"},
                           dir / "switch.log");
    struct Reap {
        pid_t pid;
        ~Reap() {
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        }
    } reap{sw};
    // A load with invalid requests, duplicates and follow-ups, from the load generator process.
    const int lg = wait_exit(spawn_turnout({"--log-level", "debug", "loadgen", "--config", config.string(), "--count", "4000",
                                    "--seed", "88", "--run-id", run, "--duplicate-share", "0.02", "--report-json",
                                    (dir / "loadgen.json").string()},
                                   dir / "loadgen.log"));
    CHECK(lg == 0);
    // The bad-input corpus too: many of its cases hold card numbers the switch must refuse.
    const auto good = publish_mix(cfg, corpus, run, 10);
    await_outcomes(cfg, good, corpus);
    // Card numbers in free-text fields: refused with a named reason, never carried in clear.
    const auto [free_text_pans, free_text_ids] = publish_free_text_pans(cfg, run);
    std::map<std::string, std::string> free_text_outcomes;
    for (const int64_t until = now_ms() + 60000; now_ms() < until && free_text_outcomes.size() < free_text_ids.size();) {
        for (const auto& r : read_all(cfg, {cfg.kafka.topics.results}))
            if (auto res = decode_result(r.value))
                if (std::find(free_text_ids.begin(), free_text_ids.end(), res->payment_id) != free_text_ids.end())
                    free_text_outcomes[res->payment_id] =
                        res->status == ResultStatus::rejected ? res->reason.code : std::string(to_string(res->status));
        if (free_text_outcomes.size() < free_text_ids.size()) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    for (size_t i = 0; i < free_text_ids.size(); ++i) {
        CAPTURE(free_text_ids[i]);
        if (i < 2)
            CHECK(free_text_outcomes[free_text_ids[i]] == "approved");  // masked, and paid
        else
            CHECK(free_text_outcomes[free_text_ids[i]] == "card_number_in_free_text");
    }
    ::kill(sw, SIGTERM);
    CHECK(wait_exit(sw) == 0);
    reap.pid = -1;

    // The PANs sent: every "pan" member of every request, digits only.
    const auto& t = cfg.kafka.topics;
    std::set<std::string> pans;
    const auto requests = read_all(cfg, {t.requests});
    for (const auto& r : requests)
        for (size_t pos = r.value.find("\"pan\""); pos != std::string::npos; pos = r.value.find("\"pan\"", pos + 1)) {
            std::string digits;
            for (size_t i = pos + 5; i < r.value.size() && i < pos + 60 && r.value[i] != ',' && r.value[i] != '}'; ++i)
                if (std::isdigit(static_cast<unsigned char>(r.value[i]))) digits += r.value[i];
            if (digits.size() >= 12 && digits.size() <= 19) pans.insert(digits);
        }
    CHECK(pans.size() > 1000);
    pans.insert(free_text_pans.begin(), free_text_pans.end());

    int leaks = 0;
    std::vector<std::string> found;
    {  // The scanner itself finds a PAN written plainly, in groups with spaces and with dashes.
        const std::string pan = *pans.begin();
        std::string spaced, dashed;
        for (size_t i = 0; i < pan.size(); ++i) {
            if (i && i % 4 == 0) spaced += ' ', dashed += '-';
            spaced += pan[i], dashed += pan[i];
        }
        std::vector<std::string> probe;
        CHECK(count_pans(pans, "a" + pan + "b", "probe", probe) >= 1);
        CHECK(count_pans(pans, "card " + spaced + ".", "probe", probe) >= 1);
        CHECK(count_pans(pans, "\"" + dashed + "\"", "probe", probe) >= 1);
    }
    // Every record of every other topic of the run: key, value, header names and values.
    std::vector<std::string> scanned;
    for (const auto& topic : run_topics(cfg, run + "."))
        if (topic != t.requests) scanned.push_back(topic);
    CHECK(scanned.size() >= 8);
    size_t records_scanned = 0;
    for (const auto& r : read_all(cfg, scanned)) {
        ++records_scanned;
        leaks += count_pans(pans, r.key, r.topic + " key", found);
        leaks += count_pans(pans, r.value, r.topic + " value", found);
        for (const auto& [k, v] : r.headers) leaks += count_pans(pans, k + ":" + v, r.topic + " header " + k, found);
    }
    CHECK(records_scanned > 8000);
    // Every file of the run: the processes' logs, clearing files, ledgers, reports.
    size_t files = 0, log_lines = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        ++files;
        const auto body = read_file(e.path());
        if (e.path().extension() == ".log") log_lines += std::count(body.begin(), body.end(), '\n');
        leaks += count_pans(pans, body, e.path().filename().string(), found);
    }
    MESSAGE("scanned " << records_scanned << " records of " << scanned.size() << " topics, " << files << " files, "
                       << log_lines << " log lines for " << pans.size() << " PANs");
    CHECK(files > 5);
    CHECK(log_lines > 10);
    for (const auto& f : found) MESSAGE("clear PAN in " << f);
    CHECK(leaks == 0);
    if (hsm) {
        // The card numbers were sealed in the token: under the key set's active PAN key.
        const auto key_set = YAML::LoadFile((dir / "hsm" / "key-set.yaml").string());
        const auto active = key_set["active_pan_key"].as<std::string>();
        int sealed = 0, other = 0;
        for (const auto& r : read_all(cfg, {t.routed}))
            if (auto p = decode_routed(r.value); p && p->request.instrument && p->request.instrument->sealed_pan)
                (p->request.instrument->sealed_pan->key_id == active ? sealed : other)++;
        MESSAGE(sealed << " card numbers on payments.routed sealed under " << active << ", " << other << " under another key");
        CHECK(sealed > 1000);
        CHECK(other == 0);
        ::unsetenv("SOFTHSM2_CONF");
    }
}

TEST_CASE("no clear PAN outside payments.requests: topics, headers, logs and files of a run") { pan_leak_scan(false); }

TEST_CASE("no clear PAN outside payments.requests, keys in a PKCS#11 token (SoftHSM2)") { pan_leak_scan(true); }

TEST_CASE("the whole pipeline over Kafka TLS (scripts/kafka-local --tls)") {
    // Run by test/integration/tls_test.sh, which starts a TLS broker and names it here.
    const char* bootstrap = std::getenv("TURNOUT_TLS_BOOTSTRAP");
    const char* tls_dir = std::getenv("TURNOUT_TLS_DIR");
    if (!bootstrap || !*bootstrap || !tls_dir || !*tls_dir) {
        MESSAGE("skipped: TURNOUT_TLS_BOOTSTRAP and TURNOUT_TLS_DIR are not set (test/integration/tls_test.sh sets them)");
        return;
    }
    const std::string run = "tls" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    std::string yaml = isolated_yaml(run, dir);
    // Plain librdkafka properties from the config, as an operator would write them.
    const std::string d = tls_dir;
    replace_once(yaml, "  properties: {}\n",
                 "  properties:\n    security.protocol: SSL\n    ssl.ca.location: " + d + "/ca.pem\n"
                 "    ssl.certificate.location: " + d + "/client.pem\n    ssl.key.location: " + d + "/client.key\n");
    Config cfg = isolated_config(run, dir, yaml);
    cfg.kafka.bootstrap_servers = bootstrap;
    REQUIRE(cfg.kafka.properties.at("security.protocol") == "SSL");
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));

    std::atomic<bool> stop{false};
    int roles_rc = -1;
    std::thread roles([&] { roles_rc = run_roles(cfg, vault, all_roles(cfg), "0", stop); });
    struct StopRoles {
        std::atomic<bool>& stop;
        std::thread& t;
        ~StopRoles() {
            stop = true;
            if (t.joinable()) t.join();
        }
    } stop_roles{stop, roles};

    LoadgenOptions lo;
    lo.count = 2000;
    lo.seed = 443;
    lo.run_id = run;
    lo.progress = false;
    lo.result_timeout_s = 60;
    lo.duplicate_share = 0.02;
    const auto report = run_loadgen(cfg, lo);
    print_report(report, std::cout);
    stop = true;
    roles.join();
    CHECK(roles_rc == 0);
    CHECK(report.sent == 2000);
    CHECK(report.missing == 0);
    CHECK(report.doubled == 0);
    CHECK(report.received == report.expected_results);
    CHECK(report.duplicate_answers == report.duplicates_sent);
    CHECK(report.settlement_matches);
    CHECK(report.batches > 0);

    // A client without a certificate is turned away: the listener really is mutual TLS.
    Config no_cert = cfg;
    no_cert.kafka.properties.erase("ssl.certificate.location");
    no_cert.kafka.properties.erase("ssl.key.location");
    no_cert.kafka.properties["log_level"] = "0";  // the refusals are expected; keep the output short
    CHECK_THROWS_AS(kafka::Producer(no_cert.kafka, {}).topics(3000), std::runtime_error);
}
