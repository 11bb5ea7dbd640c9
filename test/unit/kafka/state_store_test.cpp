// The partition-local state store contract, run against every store the stages use:
// commit → visible; abort → nothing; a crash after the Kafka commit but before the local
// write → the changelog tail replayed from the checkpoint restores it; expiry removes
// exactly what is due; secondary keys follow their records.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "kafka/stage_runner.hpp"
#include "pending_book.hpp"
#include "kafka/state_store.hpp"
#include "model/time.hpp"
#include "router/life_cycle_gate.hpp"
#include "domain/life_cycle.hpp"
#include "settlement/settlement_stage.hpp"
#include "state/state_stage.hpp"

using namespace turnout;
namespace fs = std::filesystem;

namespace {
struct Collect : kafka::Emitter {
    std::vector<kafka::OutRecord> records;
    void emit(const kafka::OutRecord& r) override { records.push_back(r); }
};

fs::path fresh_dir(const std::string& name) {
    static std::mt19937_64 rng{std::random_device{}()};
    auto d = fs::temp_directory_path() / ("turnout-store-test-" + name + "-" + std::to_string(rng()));
    fs::remove_all(d);
    return d;
}

const int64_t kHour = 3'600'000;

// A value each store accepts: the state store indexes a payment's follow-ups, so its values
// are payments.state records; the others take any bytes.
std::string state_value(const std::string& root, const std::vector<std::string>& follow_ups) {
    PaymentLifeCycle lc;
    lc.root_id = root;
    lc.kind = PaymentType::sale;
    lc.original_status = ResultStatus::approved;
    lc.merchant_id = "m-1";
    lc.currency = "EUR";
    lc.amount = lc.authorized = lc.captured = 1000;
    LifeCycleEvent sale;
    sale.payment_id = root;
    sale.type = PaymentType::sale;
    sale.status = ResultStatus::approved;
    sale.amount = 1000;
    sale.at_ms = 1'764'000'000'000;
    lc.history.push_back(sale);
    for (const auto& f : follow_ups) {
        LifeCycleEvent e = sale;
        e.payment_id = f;
        e.type = PaymentType::refund;
        e.amount = 100;
        lc.history.push_back(e);
        lc.refunded += 100;
    }
    lc.created_at_ms = lc.updated_at_ms = sale.at_ms;
    return encode_life_cycle(lc);
}

struct Case {
    std::string name;
    kafka::StoreSpec spec;
};

std::vector<Case> every_store() {
    return {
        {"dedupe", {"dedupe", "payments.dedupe", 168 * kHour, false, {}}},
        {"ledger", {"ledger", "payments.lifecycle", 400 * 24 * kHour, true, &LifeCycleGate::index_held}},
        {"state", {"state", "payments.state", 400 * 24 * kHour, true, &StateStage::index_follow_ups}},
        {"settlement", {"batches", "settlement.log", 168 * kHour, false, &SettlementStage::index_batch_log}},
    };
}
}  // namespace

TEST_CASE("state store contract: commit makes visible, abort leaves nothing, the changelog carries every write") {
    for (const auto& c : every_store()) {
        CAPTURE(c.name);
        const auto dir = fresh_dir(c.name);
        Collect out;
        {
            kafka::PartitionStore st(c.spec, 3, dir, nullptr);
            CHECK(st.checkpoint() == -1);  // no local copy yet
            st.put("a", "va", now_ms(), out);
            CHECK(st.get("a") == "va");              // the transaction sees its own write
            CHECK_FALSE(st.get_committed("a"));       // nobody else does yet
            REQUIRE(out.records.size() == 1);
            CHECK(out.records[0].topic == c.spec.changelog);
            CHECK(out.records[0].partition == 3);
            CHECK(out.records[0].key == "a");
            CHECK(out.records[0].value == "va");
            st.commit(11);
            CHECK(st.get_committed("a") == "va");
            CHECK(st.checkpoint() == 11);

            st.put("b", "vb", now_ms(), out);
            st.erase("a", out);
            CHECK_FALSE(st.get("a"));
            st.abort();
            CHECK_FALSE(st.get("b"));
            CHECK(st.get("a") == "va");
            CHECK(st.checkpoint() == 11);

            st.erase("a", out);
            CHECK(out.records.back().value.empty());  // a tombstone in the changelog
            st.commit(-1);  // no changelog position acknowledged: the checkpoint stays
            CHECK_FALSE(st.get_committed("a"));
            CHECK(st.checkpoint() == 11);
        }
        {
            kafka::PartitionStore reopened(c.spec, 3, dir, nullptr);  // durable across a restart
            CHECK(reopened.checkpoint() == 11);
            CHECK_FALSE(reopened.get_committed("a"));
        }
        fs::remove_all(dir);
    }
}

TEST_CASE("state store contract: a crash after the Kafka commit, before the local write, is repaired by the tail") {
    for (const auto& c : every_store()) {
        CAPTURE(c.name);
        const auto dir = fresh_dir(c.name);
        const int64_t now = now_ms();
        Collect changelog;
        {
            kafka::PartitionStore st(c.spec, 0, dir, nullptr);
            st.put("p1", state_value("p1", {}), now, changelog);
            st.commit(1);  // changelog offset 0 written and applied
            st.put("p2", state_value("p2", {"p2-r1"}), now, changelog);
            st.put("p1", state_value("p1", {"p1-r1"}), now, changelog);
            // The Kafka transaction of offsets 1..2 committed; the process dies before commit().
        }
        kafka::PartitionStore st(c.spec, 0, dir, nullptr);
        REQUIRE(st.checkpoint() == 1);
        CHECK_FALSE(st.get_committed("p2"));
        // Restore replays the changelog from the checkpoint: offsets 1 and 2.
        for (size_t off = static_cast<size_t>(st.checkpoint()); off < changelog.records.size(); ++off)
            st.restore(changelog.records[off].key, changelog.records[off].value, now);
        st.finish_restore(static_cast<int64_t>(changelog.records.size()) + 1);  // + the commit marker
        CHECK(st.get_committed("p2") == state_value("p2", {"p2-r1"}));
        CHECK(st.get_committed("p1") == state_value("p1", {"p1-r1"}));
        CHECK(st.checkpoint() == 4);
        if (c.name == "state") {
            CHECK(st.key_by_index("f/p1-r1") == "p1");
            CHECK(st.key_by_index("f/p2-r1") == "p2");
        }
        // A tombstone in the tail removes the entry.
        st.restore("p2", "", now);
        st.finish_restore(5);
        CHECK_FALSE(st.get_committed("p2"));
        if (c.name == "state") CHECK_FALSE(st.key_by_index("f/p2-r1"));
        fs::remove_all(dir);
    }
}

TEST_CASE("state store contract: expiry removes exactly what is due, a bounded amount per call") {
    for (const auto& c : every_store()) {
        CAPTURE(c.name);
        const auto dir = fresh_dir(c.name);
        kafka::PartitionStore st(c.spec, 1, dir, nullptr);
        const int64_t now = now_ms();
        const int64_t ttl = c.spec.ttl_ms;
        Collect out;
        // Written 1 ms past the retention ago (due), exactly at the edge (due), and 1 s inside it.
        for (int i = 0; i < 5; ++i) st.put("old" + std::to_string(i), state_value("old" + std::to_string(i), {}), now - ttl - 1, out);
        st.put("edge", state_value("edge", {}), now - ttl, out);
        st.put("young", state_value("young", {}), now - ttl + 1000, out);
        st.put("moved", state_value("moved", {}), now - ttl - 1, out);
        st.commit(10);
        st.put("moved", state_value("moved", {}), now, out);  // written again: its time starts over
        st.commit(11);
        // Already gone for readers, before any expiry ran.
        CHECK_FALSE(st.get_committed("old0"));
        CHECK(st.get_committed("young"));
        out.records.clear();
        CHECK(st.expire(now, 4, out) == 4);  // bounded
        CHECK(st.expire(now, 100, out) == 2);  // the rest: old4 and edge (the 4 staged are skipped)
        CHECK(st.expire(now, 100, out) == 0);
        // Compacted changelogs get a tombstone for each; a time-retained one drops them itself.
        CHECK(out.records.size() == (c.spec.compacted ? 6u : 0u));
        for (const auto& r : out.records) CHECK(r.value.empty());
        st.commit(20);
        CHECK(st.expire(now, 100, out) == 0);
        CHECK(st.get_committed("young"));
        CHECK(st.get_committed("moved"));
        CHECK(st.expire(now + 2000, 100, out) == 1);  // young's time is up 1 s later
        st.commit(21);
        CHECK(st.get_committed("moved"));
        CHECK_FALSE(st.get_committed("young"));
        // A restored record older than the retention is not brought back.
        st.restore("ancient", state_value("ancient", {}), now - ttl - 5);
        st.finish_restore(30);
        CHECK_FALSE(st.get_committed("ancient"));
        fs::remove_all(dir);
    }
}

TEST_CASE("state store: secondary keys follow their record (held follow-ups, follow-up payment_ids)") {
    const auto dir = fresh_dir("index");
    Collect out;
    const int64_t now = now_ms();
    {
        kafka::StoreSpec ledger{"ledger", "payments.lifecycle", 0, true, &LifeCycleGate::index_held};
        kafka::PartitionStore st(ledger, 0, dir / "ledger", nullptr);
        st.put("S1", "{}", now, out);
        st.put("S1/C1", "{\"held\":1}", now, out);
        st.put("S2/C2", "{\"held\":2}", now, out);
        st.commit(3);
        std::vector<std::string> held;
        st.scan_index("held/", [&](std::string_view, std::string_view key) { held.emplace_back(key); });
        CHECK(held == std::vector<std::string>{"S1/C1", "S2/C2"});
        st.erase("S1/C1", out);
        st.commit(4);
        held.clear();
        st.scan_index("held/", [&](std::string_view, std::string_view key) { held.emplace_back(key); });
        CHECK(held == std::vector<std::string>{"S2/C2"});
    }
    {
        kafka::StoreSpec state{"state", "payments.state", 0, true, &StateStage::index_follow_ups};
        kafka::PartitionStore st(state, 0, dir / "state", nullptr);
        st.put("P", state_value("P", {"R1"}), now, out);
        st.commit(1);
        CHECK(st.key_by_index("f/R1") == "P");
        st.put("P", state_value("P", {"R2"}), now, out);  // R1 no longer in its history
        st.commit(2);
        CHECK_FALSE(st.key_by_index("f/R1"));
        CHECK(st.key_by_index("f/R2") == "P");
        // A value filed under another payment's key indexes nothing.
        st.put("Q", state_value("P", {"R3"}), now, out);
        st.commit(3);
        CHECK_FALSE(st.key_by_index("f/R3"));
    }
    fs::remove_all(dir);
}

TEST_CASE("state store set: stores are opened per partition, commit hands each its changelog position") {
    const auto dir = fresh_dir("set");
    KafkaConfig k;
    kafka::StoreSet set(k, dir, "router",
                        {{"dedupe", "payments.dedupe", kHour, false, {}}, {"ledger", "payments.lifecycle", 0, true, {}}});
    Collect out;
    set.at(0, 2).put("id-1", "1", now_ms(), out);
    set.at(1, 2).put("S1", "{}", now_ms(), out);
    set.at(0, 5).put("id-2", "1", now_ms(), out);
    // Only the dedupe changelog of partition 2 and the ledger's were acknowledged.
    set.commit({{{"payments.dedupe", 2}, 41}, {{"payments.lifecycle", 2}, 7}});
    CHECK(set.at(0, 2).checkpoint() == 41);
    CHECK(set.at(1, 2).checkpoint() == 7);
    CHECK(set.at(0, 5).checkpoint() == -1);  // written, but its position is unknown: not advanced
    CHECK(set.at(0, 5).get_committed("id-2"));
    CHECK(fs::exists(dir / "dedupe" / "2"));
    CHECK(fs::exists(dir / "ledger" / "5"));
    auto held = set.find(0, 2);
    REQUIRE(held);
    set.close({{"payments.requests", 2}});
    CHECK_FALSE(set.find(0, 2));
    CHECK(held->get_committed("id-1"));  // a reader holding it still reads safely
    fs::remove_all(dir);
}

TEST_CASE("state store on a changelog several stages write: a restore keeps only its own records") {
    const auto dir = fresh_dir("shared");
    kafka::StoreSpec spec{"pending", "payments.pending", 0, true, {},
                          [](std::string_view, std::string_view v) { return pending_channel(v) == "psp-a"; }};
    kafka::PartitionStore st(spec, 0, dir, nullptr);
    st.restore("p1", R"({"channel":"psp-a","channel_ref":"r1"})", now_ms());
    st.restore("p2", R"({"channel":"psp-b","channel_ref":"r2"})", now_ms());
    st.restore("p3", R"({"channel_ref":"r3","payment":{"original":{"channel":"psp-a"}}})", now_ms());  // nested only
    st.restore("p4", "not json", now_ms());
    st.finish_restore(4);
    CHECK(st.get_committed("p1"));
    CHECK_FALSE(st.get_committed("p2"));
    CHECK_FALSE(st.get_committed("p3"));
    CHECK_FALSE(st.get_committed("p4"));
    st.restore("p1", "", now_ms());  // a tombstone is applied whoever wrote it
    st.finish_restore(5);
    CHECK_FALSE(st.get_committed("p1"));
    fs::remove_all(dir);
}

TEST_CASE("state store: a restore cut short keeps the chunks it wrote and goes on from there") {
    const auto dir = fresh_dir("cut");
    const kafka::StoreSpec spec{"state", "payments.state", 0, true, {}};
    {
        kafka::PartitionStore st(spec, 0, dir, nullptr);
        for (int64_t off = 0; off < 2500; ++off) st.restore("k" + std::to_string(off), "v", now_ms(), off);
        // The process dies before finish_restore: the first chunk of 2,000 is on disk.
    }
    kafka::PartitionStore st(spec, 0, dir, nullptr);
    CHECK(st.checkpoint() == 2000);
    CHECK(st.get_committed("k1999"));
    CHECK_FALSE(st.get_committed("k2000"));
    fs::remove_all(dir);
}

namespace {
// Everything a store holds that a reader can see: every entry, every follow-up index key
// that resolves, and what expiry would remove at `at`.
struct Visible {
    std::map<std::string, std::string> entries;
    std::map<std::string, std::string> index;
    size_t due = 0;
    bool operator==(const Visible&) const = default;
};
Visible visible(kafka::PartitionStore& st, const std::vector<std::string>& index_keys, int64_t at) {
    Visible v;
    st.scan([&](std::string_view k, std::string_view val) { v.entries[std::string(k)] = std::string(val); });
    for (const auto& ik : index_keys)
        if (auto k = st.key_by_index(ik)) v.index[ik] = *k;
    Collect out;
    v.due = st.expire(at, 1'000'000, out);
    st.abort();
    return v;
}
}  // namespace

TEST_CASE("state store: a bulk restore (no local copy) ends exactly where the read-before-write path does") {
    // A changelog of 9,000 records over 3,000 payments (chunks of 2,000 distinct keys): payments
    // rewritten with new follow-ups and later timestamps, some removed by tombstones, some
    // old enough that their time runs out during the replay.
    const kafka::StoreSpec spec{"state", "payments.state", 10 * kHour, true, &StateStage::index_follow_ups};
    const int64_t now = now_ms();
    struct Rec {
        std::string key, value;
        int64_t ts;
    };
    std::vector<Rec> log;
    std::vector<std::string> index_keys;
    std::mt19937_64 rng(7);
    std::map<std::string, int> follow_ups;
    for (int i = 0; i < 9000; ++i) {
        const std::string p = "p" + std::to_string(rng() % 3000);
        const int64_t ts = now - static_cast<int64_t>(rng() % (12 * kHour));  // some already past their 10 h
        if (rng() % 10 == 0) {
            log.push_back({p, "", ts});
            follow_ups.erase(p);
            continue;
        }
        std::vector<std::string> fs;
        const int n = ++follow_ups[p] % 4;  // the follow-ups change: old index keys must go
        for (int f = 0; f < n; ++f) fs.push_back(p + "-r" + std::to_string(follow_ups[p]) + "-" + std::to_string(f));
        for (const auto& f : fs) index_keys.push_back("f/" + f);
        log.push_back({p, state_value(p, fs), ts});
    }
    const auto replay = [&](kafka::PartitionStore& st, size_t from, size_t to) {
        for (size_t off = from; off < to; ++off)
            st.restore(log[off].key, log[off].value, log[off].ts, static_cast<int64_t>(off));
    };
    const int64_t later = now + 3 * kHour;  // expiry as seen 3 h from now

    // The reference: the same records replayed by the tail path (read before write), one
    // record per chunk boundary so every write sees its predecessor.
    const auto ref_dir = fresh_dir("bulk-ref");
    kafka::PartitionStore ref(spec, 0, ref_dir, nullptr);
    replay(ref, 0, log.size());
    ref.finish_restore(static_cast<int64_t>(log.size()));
    const auto want = visible(ref, index_keys, later);
    REQUIRE(want.entries.size() > 300);
    REQUIRE(want.index.size() > 100);
    REQUIRE(want.due > 10);

    SUBCASE("in one go") {
        const auto dir = fresh_dir("bulk");
        kafka::PartitionStore st(spec, 0, dir, nullptr);
        st.begin_bulk_restore();
        CHECK(st.rebuild_pending());
        replay(st, 0, log.size());
        st.finish_restore(static_cast<int64_t>(log.size()));
        CHECK_FALSE(st.rebuild_pending());
        CHECK(visible(st, index_keys, later) == want);
        fs::remove_all(dir);
    }
    SUBCASE("cut short, then finished by the next restore from its checkpoint") {
        const auto dir = fresh_dir("bulk-cut");
        {
            kafka::PartitionStore st(spec, 0, dir, nullptr);
            st.begin_bulk_restore();
            replay(st, 0, 7000);  // some chunks reach the disk, then the process dies
        }
        kafka::PartitionStore st(spec, 0, dir, nullptr);
        REQUIRE(st.checkpoint() > 2000);
        REQUIRE(st.checkpoint() < 7000);
        CHECK(st.rebuild_pending());  // the derived keys of those chunks were never made
        st.begin_bulk_restore();
        replay(st, static_cast<size_t>(st.checkpoint()), log.size());
        st.finish_restore(static_cast<int64_t>(log.size()));
        CHECK_FALSE(st.rebuild_pending());
        CHECK(visible(st, index_keys, later) == want);
        fs::remove_all(dir);
    }
    fs::remove_all(ref_dir);
}
