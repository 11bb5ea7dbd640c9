// Money safety on the real broker: no record of any size or shape on any topic Turnout reads
// stops a stage; a payment_id is never executed twice, however late the duplicate and
// whatever its key; a follow-up must come from the original's merchant.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "harness.hpp"
#include "requests_kit.hpp"
#include "kafka/client.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "security/card_vault.hpp"
#include "domain/life_cycle.hpp"
#include "state/status_query.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

// Waits (90 s at most) until `ready` holds; returns whether it did.
bool wait_until(const std::function<bool()>& ready) {
    for (const int64_t until = now_ms() + 90000; now_ms() < until; std::this_thread::sleep_for(std::chrono::milliseconds(200)))
        if (ready()) return true;
    return ready();
}

// Held follow-ups written to payments.lifecycle (their keys name the payment and the
// follow-up; a released one leaves a tombstone).
size_t held_records(const Config& cfg) {
    size_t n = 0;
    for (const auto& rec : read_all(cfg, {cfg.kafka.topics.lifecycle}))
        n += rec.key.find('/') != std::string::npos && !rec.value.empty();
    return n;
}

std::vector<Consumed> dlq_with_reason(const Config& cfg, const std::string& reason) {
    std::vector<Consumed> out;
    for (auto& rec : read_all(cfg, {cfg.kafka.topics.dlq}))
        if (rec.header("turnout.error.reason") == reason) out.push_back(std::move(rec));
    return out;
}

using Marks = std::map<std::pair<std::string, int32_t>, int64_t>;

// Writes one small record to every partition of `topics` and returns where each landed: a
// stage that commits past its mark got past everything written before it.
Marks write_marks(const Config& cfg, const std::vector<std::string>& topics) {
    Marks marks;
    kafka::Producer p(cfg.kafka, {{"enable.idempotence", "true"}});
    for (const auto& topic : topics)
        for (int32_t part = 0; part < cfg.kafka.partitions; ++part) {
            std::string why;
            REQUIRE(p.produce({topic, "mark", "mark", {}, part},
                              [&marks, topic](const kafka::Delivery& d) {
                                  if (d.delivered) marks[{topic, d.partition}] = d.offset;
                              },
                              why));
        }
    flush(p);
    p.poll(0);
    REQUIRE(marks.size() == topics.size() * static_cast<size_t>(cfg.kafka.partitions));
    return marks;
}

// True once consumer group `group` has committed past the mark of every partition of `topics`.
bool committed_past(const Config& cfg, const std::string& group, const std::vector<std::string>& topics,
                    const Marks& marks, int timeout_ms = 60000) {
    kafka::TopicReader c(cfg.kafka, group);  // looks at the group's offsets, never joins it
    std::vector<kafka::Position> which;
    for (const auto& [tp, offset] : marks)
        if (std::find(topics.begin(), topics.end(), tp.first) != topics.end()) which.push_back({tp.first, tp.second, 0});
    std::string behind;
    for (const int64_t until = now_ms() + timeout_ms; now_ms() < until;) {
        const auto committed = c.committed(which);
        if (!committed) continue;
        behind.clear();
        for (const auto& e : *committed) {
            const int64_t mark = marks.at({e.topic, e.partition});
            if (e.offset <= mark)
                behind += e.topic + "/" + std::to_string(e.partition) + " at " + std::to_string(e.offset) + ", mark " +
                          std::to_string(mark) + "; ";
        }
        if (behind.empty()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    MESSAGE(group << " behind: " << behind);
    return false;
}

std::string group_of(const Config& cfg, const std::string& stage) { return cfg.kafka.name_prefix + "turnout." + stage; }

// The stages of `turnout all` and the topics each consumes.
std::vector<std::pair<std::string, std::vector<std::string>>> stage_inputs(const Config& cfg) {
    const auto& t = cfg.kafka.topics;
    std::vector<std::pair<std::string, std::vector<std::string>>> out{{"router", {t.requests, t.results}},
                                                                      {"risk", {t.routed}},
                                                                      {"settlement", {t.results}},
                                                                      {"state", {t.results}}};
    for (const auto& ch : cfg.channels) out.push_back({"connector." + ch.id, {t.channel(ch.id)}});
    return out;
}

}  // namespace

TEST_CASE("records too large for a dead-letter copy, giant traceparents and keys: dead-lettered bounded, the router goes on") {
    auto run = make_run("ms-big");
    const Config& cfg = run.cfg;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault);
    auto p = producer_for(cfg);
    const auto& t = cfg.kafka.topics;

    // 800,000 bytes: sealed whole and base64-encoded, its DLQ copy would exceed message.max.bytes.
    send(p, t.requests, run.id + "-huge", std::string(800'000, 'x'));
    // A valid request under a 600,000-byte traceparent: the header is not copied anywhere.
    const auto giant_tp = sale(run.id + "-tp");
    send(p, t.requests, giant_tp.root_id(), encode_request(giant_tp),
         {{"traceparent", std::string(600'000, 'f')}});
    // A 700,000-byte key on an unreadable request.
    send(p, t.requests, std::string(700'000, 'k'), "{oops");
    std::vector<std::string> good;
    for (int i = 0; i < 5; ++i) {
        good.push_back(run.id + "-g" + std::to_string(i));
        send_request(p, cfg, sale(good.back()));
    }
    flush(p);

    auto ids = good;
    ids.push_back(giant_tp.payment_id);
    const auto results = await_results(cfg, ids);
    for (const auto& id : ids) CHECK(outcomes(results, id) == "approved");
    for (const auto& rec : read_all(cfg, {t.results, t.routed, t.dlq}))
        if (auto tp = rec.header("traceparent"); !tp.empty()) CHECK(kafka::valid_traceparent(tp));

    const auto oversize = dlq_with_reason(cfg, "oversize_record");
    REQUIRE(oversize.size() == 1);
    CHECK(oversize[0].value.size() < 200'000);
    CHECK(oversize[0].value.find("\"original_bytes\":800000") != std::string::npos);
    CHECK(oversize[0].value.find(kafka::sha256_hex_of(std::string(800'000, 'x'))) != std::string::npos);
    const auto unreadable = dlq_with_reason(cfg, "invalid_json");
    REQUIRE(unreadable.size() == 1);
    CHECK(unreadable[0].key == "sha256:" + kafka::sha256_hex_of(std::string(700'000, 'k')));
    CHECK(unreadable[0].header("turnout.error.truncated") == "key");
    CHECK(committed_past(cfg, group_of(cfg, "router"), {t.requests}, write_marks(cfg, {t.requests})));
    CHECK(sw.stop() == 0);
}

TEST_CASE("a sale and nine refunds padded to 65,536 bytes held behind it: every ledger record bounded, each answered once") {
    // No connector runs until the refunds are held: the sale has no result before.
    auto run = make_run("ms-held");
    const Config& cfg = run.cfg;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault, roles_but_connectors(cfg));
    auto p = producer_for(cfg);

    const auto ids = send_sale_and_padded_refunds(p, cfg, run.id, 9);
    const auto& s = ids.front();
    flush(p);
    CHECK(wait_until([&] { return held_records(cfg) >= 9; }));
    SwitchThread connectors(cfg, vault, connector_roles(cfg));

    const auto results = await_results(cfg, ids);
    CHECK(outcomes(results, s) == "approved");
    const auto channel_of_sale = results.find(s)->second.channel;
    for (size_t i = 1; i < ids.size(); ++i) {
        CAPTURE(ids[i]);
        CHECK(results.count(ids[i]) == 1);
        // Decided once the sale's result is in: refunds on the sale's channel pass.
        if (channel_of_sale == "acq-eu") CHECK(outcome(results.find(ids[i])->second) == "approved");
    }
    size_t largest = 0, held = 0;
    for (const auto& rec : read_all(cfg, {cfg.kafka.topics.lifecycle})) {
        largest = std::max(largest, rec.key.size() + rec.value.size());
        held += rec.key.find('/') != std::string::npos && !rec.value.empty();
    }
    MESSAGE("largest payments.lifecycle record: " << largest << " bytes; held requests written: " << held);
    CHECK(held == 9);  // they were held, each as a record of its own
    CHECK(largest < 200'000);
    CHECK(dlq_with_reason(cfg, "record_too_large").empty());
    CHECK(committed_past(cfg, group_of(cfg, "router"), {cfg.kafka.topics.requests},
                         write_marks(cfg, {cfg.kafka.topics.requests})));
    CHECK(connectors.stop() == 0);
    CHECK(sw.stop() == 0);
}

TEST_CASE("a duplicate of an answered payment, and the same payment_id under another key, are never executed again") {
    auto run = make_run("ms-dup");
    Config cfg = run.cfg;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault);
    auto p = producer_for(cfg);

    const auto s1 = sale(run.id + "-S1");
    const auto a1 = sale(run.id + "-A1", "m-safe", 5000, PaymentType::authorize);
    send_request(p, cfg, s1);
    send_request(p, cfg, a1);
    flush(p);
    auto first = await_results(cfg, {s1.payment_id, a1.payment_id});
    REQUIRE(outcomes(first, s1.payment_id) == "approved");
    REQUIRE(outcomes(first, a1.payment_id) == "approved");
    const auto c1 = follow_up(run.id + "-C1", PaymentType::capture, 2000, first.find(a1.payment_id)->second);
    send_request(p, cfg, c1);
    flush(p);
    REQUIRE(outcomes(await_results(cfg, {c1.payment_id}), c1.payment_id) == "approved");

    // The life-cycle ledger is the dedupe: it remembers the sale, the authorization and the
    // capture for state.retention_days, whatever came in between.
    // The same requests again, byte for byte: answered duplicate_request, no second approval.
    send_request(p, cfg, s1);
    send_request(p, cfg, c1);
    // The sale again under a key of another partition: refused at once, dead-lettered.
    std::string other_key;
    for (int i = 0; other_key.empty(); ++i)
        if (partition_for_key("k" + std::to_string(i), cfg.kafka.partitions) !=
            partition_for_key(s1.payment_id, cfg.kafka.partitions))
            other_key = "k" + std::to_string(i);
    send(p, cfg.kafka.topics.requests, other_key, encode_request(s1));
    flush(p);

    const auto again = await_results(cfg, {s1.payment_id, c1.payment_id}, 2);
    CHECK(outcomes(again, s1.payment_id) == "approved duplicate_request key_mismatch");
    CHECK(outcomes(again, c1.payment_id) == "approved duplicate_request");
    const auto refused = dlq_with_reason(cfg, "key_mismatch");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].key == other_key);
    CHECK(sw.stop() == 0);
}

TEST_CASE("a capture, void or refund from another merchant is refused as merchant_mismatch") {
    auto run = make_run("ms-merchant");
    const Config& cfg = run.cfg;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault);
    auto p = producer_for(cfg);

    const auto a = sale(run.id + "-A", "m-owner", 5000, PaymentType::authorize);
    const auto s = sale(run.id + "-S", "m-owner", 5000);
    send_request(p, cfg, a);
    send_request(p, cfg, s);
    flush(p);
    const auto originals = await_results(cfg, {a.payment_id, s.payment_id});
    const auto& ar = originals.find(a.payment_id)->second;
    const auto& sr = originals.find(s.payment_id)->second;
    REQUIRE(outcome(ar) == "approved");
    REQUIRE(outcome(sr) == "approved");

    const auto steal_capture = follow_up(run.id + "-C-thief", PaymentType::capture, 5000, ar, "m-thief");
    const auto steal_refund = follow_up(run.id + "-R-thief", PaymentType::refund, 5000, sr, "m-thief");
    const auto steal_void = follow_up(run.id + "-V-thief", PaymentType::void_, 5000, ar, "m-thief");
    for (const auto& r : {steal_capture, steal_refund, steal_void}) send_request(p, cfg, r);
    flush(p);
    const auto stolen = await_results(cfg, {steal_capture.payment_id, steal_refund.payment_id, steal_void.payment_id});
    for (const auto& r : {steal_capture, steal_refund, steal_void})
        CHECK(outcomes(stolen, r.payment_id) == "merchant_mismatch");

    // The owner's capture still finds the whole amount open.
    const auto own = follow_up(run.id + "-C-owner", PaymentType::capture, 5000, ar, "m-owner");
    send_request(p, cfg, own);
    flush(p);
    CHECK(outcomes(await_results(cfg, {own.payment_id}), own.payment_id) == "approved");
    CHECK(sw.stop() == 0);
}

TEST_CASE("random records of 0-2 MB on every topic Turnout reads: every stage keeps committing, before and after a restart") {
    auto run = make_run("ms-prop");
    const Config& cfg = run.cfg;
    const auto& t = cfg.kafka.topics;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    auto p = producer_for(cfg);
    std::mt19937_64 rng(20261201);
    auto random_bytes = [&](size_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng());
        return s;
    };
    // Sizes around every boundary the switch has (request limit, DLQ bound, message.max.bytes)
    // and random ones up to 2 MB.
    std::vector<size_t> sizes{0, 1, 4096, 65536, 65537, 262'145, 999'000, 1'000'001, 2'000'000};
    for (int i = 0; i < 3; ++i) sizes.push_back(std::uniform_int_distribution<size_t>(0, 2'000'000)(rng));
    std::vector<std::string> inputs{t.requests, t.results, t.routed, t.health, t.lifecycle,
                                    t.velocity, t.pending, t.settlement_log, t.state};
    std::vector<std::string> consumed{t.requests, t.results, t.routed};  // by a stage's consumer group
    for (const auto& ch : cfg.channels) {
        inputs.push_back(t.channel(ch.id));
        consumed.push_back(t.channel(ch.id));
    }

    auto garbage = [&](const std::string& tag) {
        size_t n = 0;
        for (const auto& topic : inputs)
            for (size_t sz : sizes) {
                std::vector<std::pair<std::string, std::string>> headers;
                if (rng() % 2) headers.emplace_back("traceparent", random_bytes(rng() % 2 ? 55 : 70'000));
                if (rng() % 3 == 0) headers.emplace_back("turnout.record", "channel_event");
                const std::string key = rng() % 4 == 0 ? random_bytes(rng() % 2 ? 16 : 50'000) : tag + std::to_string(n);
                send(p, topic, key, random_bytes(sz), std::move(headers));
                ++n;
            }
        flush(p);
        MESSAGE(tag << ": " << n << " random records on " << inputs.size() << " topics");
    };
    auto good = [&](const std::string& tag, int n) {
        std::vector<std::string> ids;
        for (int i = 0; i < n; ++i) {
            ids.push_back(run.id + "-" + tag + std::to_string(i));
            send_request(p, cfg, sale(ids.back()));
        }
        flush(p);
        const auto results = await_results(cfg, ids);
        for (const auto& id : ids) CHECK(results.count(id) == 1);
    };

    {
        SwitchThread sw(cfg, vault);
        garbage("before-");
        good("a", 20);
        const auto marks = write_marks(cfg, consumed);
        for (const auto& [stage, topics] : stage_inputs(cfg)) {
            CAPTURE(stage);
            CHECK(committed_past(cfg, group_of(cfg, stage), topics, marks));
        }
        CHECK(sw.stop() == 0);
    }
    // The changelogs now hold random records too: a restart replays them.
    garbage("again-");
    {
        SwitchThread sw(cfg, vault);
        good("b", 20);
        const auto marks = write_marks(cfg, consumed);
        for (const auto& [stage, topics] : stage_inputs(cfg)) {
            CAPTURE(stage);
            CHECK(committed_past(cfg, group_of(cfg, stage), topics, marks));
        }
        CHECK(sw.stop() == 0);
    }
}

TEST_CASE("a record a stage cannot produce (over message.max.bytes) is dead-lettered as its digest; the stage goes on") {
    // Clients limited to 100,000-byte records: each held refund (65,536 bytes of request with
    // line breaks, escaped in its ledger record) no longer fits, and nothing can make it fit.
    // No connector runs until the refunds are held (the sale has no result before).
    auto run = make_run("ms-limit");
    Config cfg = run.cfg;
    cfg.kafka.properties["message.max.bytes"] = "100000";
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault, roles_but_connectors(cfg));
    auto p = producer_for(cfg);

    auto ids = send_sale_and_padded_refunds(p, cfg, run.id, 3);
    std::vector<std::string> later;
    for (int i = 0; i < 5; ++i) {
        later.push_back(run.id + "-g" + std::to_string(i));
        send_request(p, cfg, sale(later.back()));
    }
    flush(p);
    CHECK(wait_until([&] { return dlq_with_reason(cfg, "record_too_large").size() >= 3; }));
    SwitchThread connectors(cfg, vault, connector_roles(cfg));

    // Every payment is still answered (the held refunds were in memory), and the records that
    // could not be written are in the DLQ as digests.
    ids.insert(ids.end(), later.begin(), later.end());
    const auto results = await_results(cfg, ids);
    for (const auto& id : ids) CHECK(results.count(id) == 1);
    const auto too_large = dlq_with_reason(cfg, "record_too_large");
    CHECK(too_large.size() >= 1);
    for (const auto& rec : too_large) {
        CHECK(rec.header("turnout.error.stage") == "router");
        CHECK(rec.header("turnout.error.topic") == cfg.kafka.topics.lifecycle);
        CHECK(rec.value.find("\"sha256\":\"") != std::string::npos);
        CHECK(rec.value.size() < 1000);
    }
    CHECK(committed_past(cfg, group_of(cfg, "router"), {cfg.kafka.topics.requests},
                         write_marks(cfg, {cfg.kafka.topics.requests})));
    CHECK(connectors.stop() == 0);
    CHECK(sw.stop() == 0);
}

TEST_CASE("a routed payment naming a results partition that does not exist still gets its result; no stage stops") {
    // home_partition decodes (0 .. 2^20) but payments.results has far fewer partitions: the
    // connector's result goes to the key's partition instead of aborting its transaction forever.
    auto run = make_run("ms-home");
    const Config& cfg = run.cfg;
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    SwitchThread sw(cfg, vault);
    auto p = producer_for(cfg);
    const auto& t = cfg.kafka.topics;

    RoutedPayment forged;
    forged.request = sale(run.id + "-far");
    forged.request.instrument->pan.clear();
    forged.request.instrument->fingerprint = "fp-" + run.id;
    forged.route = {"default", {"acq-eu"}, {}};
    forged.times = {now_ms(), now_ms(), now_ms(), 0, 0};
    forged.home_partition = 999;
    send(p, t.routed, forged.request.root_id(), encode_routed(forged));
    const auto good = sale(run.id + "-g");
    send_request(p, cfg, good);
    flush(p);

    const auto results = await_results(cfg, {forged.request.payment_id, good.payment_id});
    CHECK(results.count(forged.request.payment_id) == 1);
    CHECK(outcomes(results, good.payment_id) == "approved");
    CHECK(committed_past(cfg, group_of(cfg, "connector.acq-eu"), {t.channel("acq-eu")},
                         write_marks(cfg, {t.channel("acq-eu")})));
    CHECK(sw.stop() == 0);
}
