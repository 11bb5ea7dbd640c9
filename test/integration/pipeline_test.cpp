// The whole switch on the real local broker (scripts/kafka-local): 20,000 payments through
// router → risk → connectors → results → settlement, every stage transactional.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "app/roles.hpp"
#include "codec/messages.hpp"
#include "kafka/client.hpp"
#include "loadgen/loadgen.hpp"
#include "model/time.hpp"
#include "settlement/batch_book.hpp"
#include "settlement/clearing_file.hpp"
#include "harness.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;


TEST_CASE("20,000 payments end to end on the real broker: one result each, DLQ with headers, settlement exact") {
    const std::string run = "it" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const Config cfg = isolated_config(run, dir);
    kafka::ensure_topics(cfg);

    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    std::atomic<bool> stop{false};
    int roles_rc = -1;
    std::thread roles([&] { roles_rc = run_roles(cfg, vault, all_roles(cfg), "0", stop); });
    struct StopRoles {  // on any exit from this test, stop the switch first
        std::atomic<bool>& stop;
        std::thread& t;
        ~StopRoles() {
            stop = true;
            if (t.joinable()) t.join();
        }
    } stop_roles{stop, roles};

    LoadgenOptions lo;
    lo.count = 20000;
    lo.seed = 2026;
    lo.run_id = run;
    lo.progress = false;
    lo.result_timeout_s = 90;
    lo.duplicate_share = 0.02;
    const auto report = run_loadgen(cfg, lo);
    print_report(report, std::cout);

    stop = true;
    roles.join();
    CHECK_MESSAGE(roles_rc == 0, "every role drained and left its group cleanly");

    // Every payment_id with a readable id got exactly one result.
    CHECK(report.sent == 20000);
    CHECK(report.received == report.expected_results);
    CHECK(report.missing == 0);
    CHECK(report.doubled == 0);
    CHECK(report.unexpected == 0);
    CHECK(report.duplicates_sent > 100);
    CHECK(report.duplicate_answers == report.duplicates_sent);
    // Life cycles: every planned refusal refused, every valid capture, void and refund approved.
    CHECK(report.refused_as_planned == report.refusals_planned);
    CHECK(report.steps_unexpected == 0);
    CHECK(report.by_status.at("approved") > 10000);
    CHECK(report.by_status.count("declined") == 1);
    CHECK(report.by_status.count("failed") == 1);
    CHECK(report.by_status.count("rejected") == 1);

    // Settlement: Σ batch net = Σ approved sale+capture − Σ approved refund, per currency.
    CHECK(report.settlement_matches);
    CHECK(report.batches > 0);

    const auto& t = cfg.kafka.topics;
    std::vector<std::string> channel_topics;
    for (const auto& ch : cfg.channels) channel_topics.push_back(t.channel(ch.id));
    std::vector<std::string> topics{t.requests, t.routed, t.results, t.dlq, t.batches};
    topics.insert(topics.end(), channel_topics.begin(), channel_topics.end());
    const auto records = read_all(cfg, topics);

    // Results on the topic itself: exactly one per payment_id, keyed by root id.
    std::map<std::string, int> results_per_id;
    std::map<std::string, std::string> status_of;
    for (const auto& r : records)
        if (r.topic == t.results) {
            auto res = decode_result(r.value);
            REQUIRE(res);
            if (res->reason.code == "duplicate_request") continue;
            ++results_per_id[res->payment_id];
            status_of[res->payment_id] = std::string(to_string(res->status));
            CHECK(r.key == res->root_id);
            CHECK(r.headers.count("traceparent") == 1);
        }
    CHECK(static_cast<int64_t>(results_per_id.size()) == report.expected_results);
    int doubled = 0;
    for (const auto& [id, n] : results_per_id) doubled += n > 1;
    CHECK(doubled == 0);

    // Invalid requests sit in the DLQ with the headers of docs/design.md, "Messages", sealed.
    int64_t invalid_sent = 0;
    for (const auto& [label, n] : report.sent_by_label)
        if (label.rfind("invalid:", 0) == 0) invalid_sent += n;
    std::map<std::string, int64_t> dlq_reasons;
    int64_t dlq_count = 0;
    for (const auto& r : records)
        if (r.topic == t.dlq) {
            ++dlq_count;
            ++dlq_reasons[r.header("turnout.error.reason")];
            CHECK(r.header("turnout.error.stage") == "router");
            CHECK(r.header("turnout.error.topic") == t.requests);
            CHECK(!r.header("turnout.error.partition").empty());
            CHECK(!r.header("turnout.error.offset").empty());
            CHECK(r.value.rfind("{\"sealed\":", 0) == 0);
        }
    CHECK(invalid_sent > 0);
    CHECK(dlq_count == invalid_sent);
    for (const auto& [label, n] : report.sent_by_label)
        if (label.rfind("invalid:", 0) == 0) CHECK_MESSAGE(dlq_reasons[label.substr(8)] == n, label);

    // No clear PAN outside payments.requests.
    std::set<std::string> pans;
    for (const auto& r : records)
        if (r.topic == t.requests) {
            auto pos = r.value.find("\"pan\":\"");
            if (pos != std::string::npos) pans.insert(r.value.substr(pos + 7, r.value.find('"', pos + 7) - pos - 7));
        }
    CHECK(pans.size() > 1000);
    // Every run of 12+ digits anywhere else is checked against the PANs sent.
    int leaks = 0;
    for (const auto& r : records) {
        if (r.topic == t.requests) continue;
        const auto& v = r.value;
        for (size_t i = 0; i < v.size();) {
            size_t j = i;
            while (j < v.size() && v[j] >= '0' && v[j] <= '9') ++j;
            for (size_t a = i; j - i >= 12 && a + 12 <= j; ++a)
                for (size_t len = 12; a + len <= j && len <= 19; ++len) leaks += pans.count(v.substr(a, len));
            i = j == i ? i + 1 : j;
        }
    }
    CHECK(leaks == 0);

    // Clearing files exist with the digest their batch summary names.
    int64_t batch_records = 0;
    for (const auto& r : records)
        if (r.topic == t.batches) {
            auto b = decode_batch_summary(r.value);
            REQUIRE(b);
            batch_records += b->record_count;
            const auto body = read_file(dir / "settlement" / b->file);
            CHECK(sha256_hex(body) == b->sha256);
            CHECK(body.find("TRAILER," + std::to_string(b->record_count) + ",") != std::string::npos);
        }
    CHECK(batch_records == report.settled_records);

    // Schema conformance of every message the switch wrote, by an independent validator.
    const fs::path dump = dir / "dump";
    fs::create_directories(dump);
    std::map<std::string, std::ofstream> files;
    for (const char* f : {"requests", "routed", "channel", "results", "batches", "dlq"})
        files[f].open(dump / (std::string(f) + ".jsonl"));
    for (const auto& r : records) {
        std::string kind;
        if (r.topic == t.requests) {
            // Only requests the switch accepted must match the request schema.
            auto pos = r.value.find("\"payment_id\":\"");
            if (pos == std::string::npos) continue;
            const auto id = r.value.substr(pos + 14, r.value.find('"', pos + 14) - pos - 14);
            if (status_of[id] == "rejected" || status_of[id].empty()) continue;
            kind = "requests";
        } else if (r.topic == t.routed) {
            kind = "routed";
        } else if (r.topic == t.results) {
            kind = "results";
        } else if (r.topic == t.batches) {
            kind = "batches";
        } else if (r.topic == t.dlq) {
            kind = "dlq";
        } else {
            kind = "channel";
        }
        files[kind] << r.value << "\n";
    }
    for (auto& [k, f] : files) f.close();
    const std::string venv_python = kSource + "/var/venv/bin/python";
    const std::string python = fs::exists(venv_python) ? venv_python : "python3";
    const std::string cmd = python + " " + kSource + "/test/schema/validate.py " + kSource + "/schemas " + dump.string();
    CHECK_MESSAGE(std::system(cmd.c_str()) == 0, cmd);

    // No channel executed any payment twice, although every duplicate reached the router.
    CHECK(ledger_double_executions(dir) == 0);
}

TEST_CASE("a restart between a payment and its duplicate: dedupe and open settlement batches survive") {
    const std::string run = "rs" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const Config cfg = isolated_config(run, dir);
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    const auto& t = cfg.kafka.topics;

    auto start_switch = [&](std::atomic<bool>& stop, int& rc) {
        return std::thread([&] { rc = run_roles(cfg, vault, all_roles(cfg), "0", stop); });
    };

    // Phase 1: payments through the switch, then a clean stop while their batches are open.
    std::atomic<bool> stop1{false};
    int rc1 = -1;
    auto first = start_switch(stop1, rc1);
    LoadgenOptions lo;
    lo.count = 3000;
    lo.seed = 7;
    lo.run_id = run;
    lo.progress = false;
    lo.wait_settlement = false;
    lo.mix.invalid_share = 0;
    const auto report = run_loadgen(cfg, lo);
    stop1 = true;
    first.join();
    REQUIRE(rc1 == 0);
    REQUIRE(report.missing == 0);

    // Phase 2: a new switch process re-reads its state from Kafka; every request is sent again.
    std::atomic<bool> stop2{false};
    int rc2 = -1;
    auto second = start_switch(stop2, rc2);
    auto requests = read_all(cfg, {t.requests});
    REQUIRE(requests.size() == static_cast<size_t>(report.sent));
    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
    for (const auto& r : requests) REQUIRE(producer.produce({t.requests, r.key, r.value, {}}));
    producer.flush(10000);

    // Every resend is answered duplicate_request; settlement closes the phase-1 batches.
    int64_t duplicates = 0, results = 0, expected_net = 0, settled_net = 0;
    const int64_t deadline = now_ms() + 90000;
    while (now_ms() < deadline) {
        duplicates = results = expected_net = settled_net = 0;
        for (const auto& r : read_all(cfg, {t.results, t.batches})) {
            if (r.topic == t.batches) {
                if (auto b = decode_batch_summary(r.value); b && b->status == "closed") settled_net += b->net;
                continue;
            }
            auto res = decode_result(r.value);
            if (res->reason.code == "duplicate_request") {
                ++duplicates;
                continue;
            }
            ++results;
            if (auto cr = clearing_record_for(*res)) expected_net += cr->amount;
        }
        if (duplicates == report.sent && settled_net == expected_net) break;
        std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    stop2 = true;
    second.join();
    CHECK(rc2 == 0);
    CHECK(duplicates == report.sent);
    CHECK(results == report.expected_results);
    CHECK(settled_net == expected_net);
    CHECK(expected_net != 0);
    CHECK(ledger_double_executions(dir) == 0);
}
