// `turnout dlq list|show|replay` on the real broker: bad requests (one with a card number)
// dead-lettered by the switch running on a thread, then the `turnout` binary lists them with
// the right reasons, shows one unsealed with the card number masked, refuses what the router
// would dead-letter again and replays a fixed version that gets its result.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "app/roles.hpp"
#include "codec/messages.hpp"
#include "dlq/dlq_tool.hpp"
#include "harness.hpp"
#include "security/card_vault.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

struct Run {
    int rc = -1;
    std::string out;  // stdout and stderr
};

Run turnout_cli(const std::string& args) {
    Run r;
    FILE* p = ::popen((std::string(TURNOUT_BINARY) + " " + args + " 2>&1").c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string luhn_pan(const std::string& body15) {
    for (char check = '0'; check <= '9'; ++check)
        if (luhn_valid(body15 + check)) return body15 + check;
    return {};
}

std::string sale(const std::string& id, const std::string& pan, const std::string& currency) {
    return R"({"payment_id":")" + id + R"(","type":"sale","merchant":{"id":"m-dlq"},"amount":{"value":1200,"currency":")" +
           currency + R"("},"instrument":{"kind":"card","pan":")" + pan +
           R"(","expiry":"2812"},"created_at":"2026-11-26T06:33:25.123Z"})";
}

// The results for `payment_id` once there are at least `want`.
std::vector<PaymentResult> await_results(const Config& cfg, const std::string& payment_id, size_t want) {
    std::vector<PaymentResult> found;
    const int64_t deadline = now_ms() + 90000;
    while (now_ms() < deadline) {
        found.clear();
        for (const auto& r : read_all(cfg, {cfg.kafka.topics.results}))
            if (auto res = decode_result(r.value); res && res->payment_id == payment_id) found.push_back(*res);
        if (found.size() >= want) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return found;
}

}  // namespace

TEST_CASE("dlq list, show and replay on the real broker: reasons, masked card numbers, a fixed replay answered") {
    const std::string run = "dlq" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const std::string yaml = isolated_yaml(run, dir);
    const fs::path config_file = dir / "turnout.yaml";
    std::ofstream(config_file) << yaml;
    const Config cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault);

    const std::string pan = luhn_pan("453957876362148");
    REQUIRE(pan.size() == 16);
    const std::string masked = pan.substr(0, 6) + "******" + pan.substr(12);
    const std::string id = run + "-cur";
    {
        kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
        auto send = [&](const std::string& key, const std::string& value) {
            REQUIRE(producer.produce({cfg.kafka.topics.requests, key, value, {}}));
        };
        send(id, sale(id, pan, "XXQ"));                                  // unknown_currency, card number inside
        send("k-json", "{\"payment_id\":\"" + run + "-broken\", oops");  // invalid_json
        send("k-bin", std::string("\xff\x00\x01 binary", 10));           // invalid_json, not UTF-8
        send("k-big", std::string(70000, ' '));                          // oversize_record
        producer.flush(30000);
    REQUIRE(producer.queued() == 0);
    }
    std::vector<dlq::Entry> entries;
    for (const int64_t deadline = now_ms() + 90000; now_ms() < deadline;) {
        entries = dlq::read_all(cfg.kafka);
        if (entries.size() >= 4) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    REQUIRE(entries.size() == 4);
    std::map<std::string, std::string> position_of;  // reason → PARTITION:OFFSET (the last one)
    for (const auto& e : entries)
        position_of[e.header("turnout.error.reason")] = std::to_string(e.partition) + ":" + std::to_string(e.offset);
    const std::string cur_pos = position_of.at("unknown_currency");
    const std::string big_pos = position_of.at("oversize_record");
    const std::string cfg_arg = " --config " + config_file.string();

    {
        const auto r = turnout_cli("dlq list" + cfg_arg);
        INFO(r.out);
        CHECK(r.rc == 0);
        CHECK(r.out.find("4 record(s) in " + cfg.kafka.topics.dlq) != std::string::npos);
        CHECK(r.out.find("  invalid_json: 2\n") != std::string::npos);
        CHECK(r.out.find("  oversize_record: 1\n") != std::string::npos);
        CHECK(r.out.find("  unknown_currency: 1\n") != std::string::npos);
        CHECK(r.out.find(cur_pos + "  ") != std::string::npos);
        CHECK(r.out.find("reason=unknown_currency  from=" + cfg.kafka.topics.requests + ":") != std::string::npos);
        // A payment_id is masked like any value: this one holds a 13-digit clock reading.
        CHECK(r.out.find("payment_id=" + dlq::mask_pans(id) + " ") != std::string::npos);
        CHECK(r.out.find(pan) == std::string::npos);

        const auto only = turnout_cli("dlq list --reason invalid_json --json" + cfg_arg);
        INFO(only.out);
        CHECK(only.rc == 0);
        CHECK(std::count(only.out.begin(), only.out.end(), '\n') == 2);
        CHECK(only.out.find("oversize_record") == std::string::npos);
    }
    {
        const auto r = turnout_cli("dlq show " + cur_pos + cfg_arg);
        INFO(r.out);
        CHECK(r.rc == 0);
        CHECK(r.out.find(pan) == std::string::npos);  // never a clear card number
        CHECK(r.out.find(masked) != std::string::npos);
        CHECK(r.out.find("turnout.error.reason: unknown_currency") != std::string::npos);
        CHECK(r.out.find("\"currency\":\"XXQ\"") != std::string::npos);
        CHECK(turnout_cli("dlq show " + position_of.at("invalid_json") + cfg_arg).rc == 0);
        CHECK(turnout_cli("dlq show 0:999999" + cfg_arg).rc == 3);
    }
    // Refused: the oversize original, and the unknown currency as it was.
    {
        const auto big = turnout_cli("dlq replay " + big_pos + cfg_arg);
        CHECK(big.rc == 1);
        CHECK(big.out.find("--from-file") != std::string::npos);
        const auto again = turnout_cli("dlq replay " + cur_pos + cfg_arg);
        INFO(again.out);
        CHECK(again.rc == 1);
        CHECK(again.out.find("unknown_currency") != std::string::npos);
        CHECK(again.out.find(pan) == std::string::npos);
    }
    // The operator's fixed version goes through and is answered; a second replay of it is a duplicate.
    const fs::path fixed = dir / "fixed.json";
    std::ofstream(fixed) << sale(id, pan, "EUR") << "\n";
    {
        const auto r = turnout_cli("dlq replay " + cur_pos + " --from-file " + fixed.string() + cfg_arg);
        INFO(r.out);
        REQUIRE(r.rc == 0);
        CHECK(r.out.find("turnout.replayed-from: " + cfg.kafka.topics.dlq + ":" + cur_pos) != std::string::npos);
        CHECK(r.out.find(pan) == std::string::npos);
        const auto results = await_results(cfg, id, 2);  // the first rejection, then the replay's answer
        REQUIRE(results.size() == 2);
        CHECK(results[0].reason.code == "unknown_currency");
        CHECK(results[1].status == ResultStatus::approved);
    }
    {
        const auto r = turnout_cli("dlq replay " + cur_pos + " --from-file " + fixed.string() + cfg_arg);
        CHECK(r.rc == 0);
        const auto results = await_results(cfg, id, 3);
        REQUIRE(results.size() == 3);
        CHECK(results[2].status == ResultStatus::rejected);
        CHECK(results[2].reason.code == "duplicate_request");
    }
    // On payments.requests: keyed by the root id, naming the DLQ record.
    int replayed = 0;
    for (const auto& r : read_all(cfg, {cfg.kafka.topics.requests}))
        if (!r.header("turnout.replayed-from").empty()) {
            ++replayed;
            CHECK(r.key == id);
            CHECK(r.header("turnout.replayed-from") == cfg.kafka.topics.dlq + ":" + cur_pos);
        }
    CHECK(replayed == 2);
    CHECK(sw.stop() == 0);
}
