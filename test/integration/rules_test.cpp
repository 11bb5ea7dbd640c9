// Routing and risk rules on the real broker: a velocity limit that holds across a restart
// of the workers (the velocity changelog), and a hot reload while payments flow.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "app/roles.hpp"
#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "kafka/client.hpp"
#include "../metric_checks.hpp"
#include "model/time.hpp"
#include "router/channel_health.hpp"
#include "harness.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

// The switch (every role) in a thread of this process, stopped on scope exit.
struct RunningSwitch {
    std::atomic<bool> stop{false};
    int rc = -1;
    std::thread t;
    RunningSwitch(const Config& cfg, const CardVault& vault) {
        t = std::thread([&] { rc = run_roles(cfg, vault, all_roles(cfg), "0", stop); });
    }
    int finish() {
        stop = true;
        if (t.joinable()) t.join();
        return rc;
    }
    ~RunningSwitch() { finish(); }
};

PaymentRequest eur_card_sale(const std::string& id, const std::string& pan, int64_t amount) {
    PaymentRequest r;
    r.payment_id = id;
    r.type = PaymentType::sale;
    r.merchant = {"m-1", "5411", "DE"};
    r.amount = {amount, "EUR"};
    Instrument in;
    in.kind = InstrumentKind::card;
    in.pan = pan;
    in.expiry = "3012";
    r.instrument = in;
    r.customer = Customer{"c-1", "203.0.113.5", "US"};
    r.created_at_ms = now_ms();
    return r;
}

// A card token per payment: the default config's card velocity limit never comes into play.
// The id's digits are spelled as letters in it: the run id holds a 13-digit clock reading,
// which the router refuses in a token (card_number_in_free_text) whenever it passes the Luhn
// check, one run in ten.
PaymentRequest eur_token_sale(const std::string& id, int64_t amount) {
    auto r = eur_card_sale(id, "", amount);
    r.instrument->kind = InstrumentKind::card_token;
    r.instrument->pan.clear();
    r.instrument->expiry.clear();
    std::string token = "tok_" + id;
    for (auto& c : token)
        if (c >= '0' && c <= '9') c = static_cast<char>('a' + (c - '0'));
    r.instrument->token = token;
    return r;
}

void send(kafka::Producer& producer, const Config& cfg, const PaymentRequest& r) {
    REQUIRE(producer.produce({cfg.kafka.topics.requests, r.payment_id, encode_request(r), {}}));
}

// The results of `ids` (first one per payment_id), waiting up to 90 s for all of them.
std::map<std::string, PaymentResult> results_of(const Config& cfg, const std::set<std::string>& ids,
                                                std::map<std::string, int>* count = nullptr) {
    std::map<std::string, PaymentResult> out;
    const int64_t deadline = now_ms() + 90'000;
    while (now_ms() < deadline) {
        out.clear();
        if (count) count->clear();
        for (const auto& r : read_all(cfg, {cfg.kafka.topics.results})) {
            auto res = decode_result(r.value);
            REQUIRE(res);
            if (!ids.count(res->payment_id)) continue;
            if (count) ++(*count)[res->payment_id];
            out.emplace(res->payment_id, *res);
        }
        if (out.size() == ids.size()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return out;
}

double counter_value(const char* outcome) {
    return metric_value("turnout_rules_reloads_total", {{"outcome", outcome}});
}

}  // namespace

TEST_CASE("a card velocity limit holds across a restart of the workers") {
    const std::string run = "itv" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    std::string yaml = isolated_yaml(run, dir);
    replace_once(yaml, "window_seconds: 600, max_count: 20", "window_seconds: 3600, max_count: 3");
    const Config cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    kafka::Producer producer(cfg.kafka, {});
    const std::string card = "4111111111111111", other_card = "5500000000000004";

    std::set<std::string> first_ids;
    {
        RunningSwitch sw(cfg, vault);
        for (int i = 1; i <= 3; ++i) {
            auto r = eur_card_sale(run + "-a" + std::to_string(i), card, 1000 * i);
            send(producer, cfg, r);
            first_ids.insert(r.payment_id);
        }
        producer.flush(10000);
        const auto res = results_of(cfg, first_ids);
        REQUIRE(res.size() == 3);
        for (const auto& [id, r] : res) {
            CAPTURE(id);
            CHECK(r.status == ResultStatus::approved);
            REQUIRE(r.risk);
            CHECK(r.risk->rules_hit.empty());
        }
        CHECK(sw.finish() == 0);
    }

    // A new set of workers: the three payments above still count against the card.
    std::set<std::string> second_ids;
    {
        RunningSwitch sw(cfg, vault);
        for (int i = 4; i <= 5; ++i) {
            auto r = eur_card_sale(run + "-a" + std::to_string(i), card, 1000 * i);
            send(producer, cfg, r);
            second_ids.insert(r.payment_id);
        }
        auto other = eur_card_sale(run + "-b1", other_card, 1000);
        send(producer, cfg, other);
        second_ids.insert(other.payment_id);
        producer.flush(10000);
        const auto res = results_of(cfg, second_ids);
        REQUIRE(res.size() == 3);
        for (int i = 4; i <= 5; ++i) {
            const auto& r = res.at(run + "-a" + std::to_string(i));
            CAPTURE(r.payment_id);
            CHECK(r.status == ResultStatus::declined);
            CHECK(r.reason.code == "risk_card_velocity");
            REQUIRE(r.risk);
            CHECK(r.risk->decision == "decline");
            CHECK(r.risk->rules_hit.front() == "card_velocity");
        }
        // Another card is not limited by the first card's payments.
        CHECK(res.at(run + "-b1").status == ResultStatus::approved);
        MESSAGE("declined: " << encode_result(res.at(run + "-a4")));
        MESSAGE("approved: " << encode_result(res.at(run + "-b1")));
        CHECK(sw.finish() == 0);
    }
}

TEST_CASE("a rules reload while payments flow: one result each, an invalid file refused, later payments on the new rules") {
    const std::string run = "itr" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const std::string yaml = isolated_yaml(run, dir);
    const fs::path file = dir / "turnout.yaml";
    auto write = [&](const std::string& text) {
        // Written under another name and renamed: the watcher never sees half a file.
        std::ofstream(dir / "turnout.yaml.tmp") << text;
        fs::rename(dir / "turnout.yaml.tmp", file);
    };
    write(yaml);
    const Config cfg = load_config(file.string());
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    kafka::Producer producer(cfg.kafka, {});

    const double applied0 = counter_value("applied"), refused0 = counter_value("refused");
    RunningSwitch sw(cfg, vault);

    std::atomic<bool> sending{true};
    std::atomic<bool> switch_up{false};
    std::atomic<int> sent{0};
    std::atomic<int> first_after_reload{-1};
    std::set<std::string> ids;
    std::thread sender([&] {
        // About 500 payments a second, EUR card tokens; after the first 300, none more until
        // the switch has answered one (it routes on the rules in force before they change).
        for (int i = 0; sending.load() || i < 1500; ++i) {
            while (i == 300 && !switch_up.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            auto r = eur_token_sale(run + "-p" + std::to_string(i), 1000 + 2 * (i % 40));
            send(producer, cfg, r);
            ids.insert(r.payment_id);
            sent = i + 1;
            if (i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (i >= 6000) break;
        }
        producer.flush(10000);
    });
    auto wait_for = [&](const char* outcome, double from) {
        const int64_t deadline = now_ms() + 60'000;
        while (counter_value(outcome) <= from && now_ms() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return counter_value(outcome) > from;
    };
    while (sent.load() < 300) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // The switch is up and routing before the rules file changes: a first result is out.
    bool answered = false;
    for (const int64_t deadline = now_ms() + 90'000; !answered && now_ms() < deadline;) {
        answered = !read_all(cfg, {cfg.kafka.topics.results}).empty();
        if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    switch_up = true;
    CHECK(answered);

    // An invalid file (a plan naming no channel) is refused; the rules in force stay.
    std::string bad = yaml;
    replace_once(bad, "plan: [acq-eu, psp-global]", "plan: [acq-eu, nowhere]");
    write(bad);
    CHECK(wait_for("refused", refused0));
    while (sent.load() < 600) std::this_thread::sleep_for(std::chrono::milliseconds(10));

    // A valid file: EUR cards go the other way round, under a new rule name.
    std::string good = yaml;
    replace_once(good, "- name: eur-cards\n      when: { currency: [EUR], instrument: [card, card_token] }\n      plan: [acq-eu, psp-global]",
                 "- name: eur-cards-v2\n      when: { currency: [EUR], instrument: [card, card_token] }\n      plan: [psp-global, acq-eu]");
    write(good);
    REQUIRE(wait_for("applied", applied0));
    first_after_reload = sent.load();  // every payment sent from now on is routed by the new rules
    while (sent.load() < first_after_reload.load() + 600) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sending = false;
    sender.join();

    std::map<std::string, int> count;
    const auto res = results_of(cfg, ids, &count);
    CHECK(res.size() == ids.size());
    int doubled = 0, old_rule = 0, new_rule = 0, late_on_old = 0;
    for (const auto& [id, n] : count) doubled += n > 1;
    for (const auto& [id, r] : res) {
        INFO("result: " << encode_result(r));
        REQUIRE(r.route);
        const int seq = std::stoi(id.substr(id.rfind("-p") + 2));
        if (r.route->rule == "eur-cards") ++old_rule;
        else if (r.route->rule == "eur-cards-v2") {
            ++new_rule;
            CHECK(r.route->channels == std::vector<std::string>{"psp-global", "acq-eu"});
        } else FAIL("unexpected rule " << r.route->rule);
        if (seq >= first_after_reload.load() && r.route->rule != "eur-cards-v2") ++late_on_old;
        CHECK(r.status == ResultStatus::approved);
    }
    MESSAGE(res.size() << " results: " << old_rule << " on eur-cards, " << new_rule << " on eur-cards-v2; reload applied at payment "
                    << first_after_reload.load());
    CHECK(doubled == 0);
    // Payments sent before the reload may be routed just after it; those sent after may not
    // be routed before it.
    CHECK(old_rule > 0);
    CHECK(new_rule >= 600);
    CHECK(late_on_old == 0);
    CHECK(sw.finish() == 0);

    // The connectors published their channels' health while the payments flowed.
    std::set<std::string> reported;
    for (const auto& r : read_all(cfg, {cfg.kafka.topics.health})) {
        auto h = decode_channel_health(r.value);
        REQUIRE(h);
        CHECK(r.key == h->channel);
        reported.insert(h->channel);
    }
    CHECK(reported == std::set<std::string>{"acq-eu", "acq-us", "psp-global"});
}

TEST_CASE("the router leaves a channel that channels.health reports down out of the plan") {
    const std::string run = "ith" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const Config cfg = isolated_config(run, dir);
    kafka::ensure_topics(cfg);
    const CardVault vault(load_vault_keys(cfg.security.keys_file));
    kafka::Producer producer(cfg.kafka, {});

    // acq-eu's connector does not run here, so this report is the latest one about it.
    ChannelHealth down;
    down.channel = "acq-eu";
    down.circuit = ChannelHealth::Circuit::open;
    down.success_permille = 0;
    down.updated_at_ms = now_ms();
    REQUIRE(producer.produce({cfg.kafka.topics.health, "acq-eu", encode_channel_health(down), {}}));
    producer.flush(10000);

    std::atomic<bool> stop{false};
    int rc = -1;
    std::vector<RoleSpec> roles{{"router", ""}, {"risk", ""}, {"connector", "acq-us"}, {"connector", "psp-global"}};
    std::thread t([&] { rc = run_roles(cfg, vault, roles, "0", stop); });
    struct Stop {
        std::atomic<bool>& stop;
        std::thread& t;
        ~Stop() {
            stop = true;
            if (t.joinable()) t.join();
        }
    } stopper{stop, t};

    // The router reads channels.health in the background: once one payment shows the
    // report taken into account, every later one must too. A payment routed before the
    // router has read it goes to acq-eu, whose connector does not run here, and is never
    // answered: a new probe goes out every 2 s until one comes back routed around acq-eu.
    std::set<std::string> probes;
    bool seen = false;
    for (const int64_t deadline = now_ms() + 90'000; now_ms() < deadline && !seen;) {
        auto r = eur_token_sale(run + "-w" + std::to_string(probes.size()), 1000);
        send(producer, cfg, r);
        producer.flush(10000);
        probes.insert(r.payment_id);
        for (const int64_t next = now_ms() + 2000; now_ms() < next && !seen;) {
            for (const auto& rec : read_all(cfg, {cfg.kafka.topics.results})) {
                auto res = decode_result(rec.value);
                REQUIRE(res);
                if (probes.count(res->payment_id) && res->route && res->route->skipped == std::vector<std::string>{"acq-eu"})
                    seen = true;
            }
            if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    MESSAGE("the router took the report into account by probe " << probes.size());
    REQUIRE(seen);
    std::set<std::string> ids;
    for (int k = 0; k < 20; ++k) {
        auto r = eur_token_sale(run + "-x" + std::to_string(k), 1000);
        send(producer, cfg, r);
        ids.insert(r.payment_id);
    }
    producer.flush(10000);
    const auto res = results_of(cfg, ids);
    REQUIRE(res.size() == ids.size());
    for (const auto& [id, r] : res) {
        CAPTURE(id);
        CHECK(r.status == ResultStatus::approved);
        CHECK(r.channel == "psp-global");
        CHECK(r.route->rule == "eur-cards");
        CHECK(r.route->channels == std::vector<std::string>{"psp-global"});
        CHECK(r.route->skipped == std::vector<std::string>{"acq-eu"});
    }
    MESSAGE("routed around acq-eu: " << encode_result(res.begin()->second));
    stop = true;
    t.join();
    CHECK(rc == 0);
}
