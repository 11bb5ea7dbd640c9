// Life-cycle rules as a table of sequences: an original (authorize or sale) and its
// follow-ups, each checked by the router's ledger, with the expected verdict.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <sstream>
#include <utility>

#include "domain/life_cycle.hpp"
#include "domain/life_cycle_ledger.hpp"
#include "state/status_query.hpp"
#include "state/status_server.hpp"

using namespace turnout;

namespace {

PaymentRequest request(const std::string& id, PaymentType type, int64_t amount, const std::string& root = {},
                       const std::string& currency = "EUR", const std::string& channel = "acq-eu") {
    PaymentRequest r;
    r.payment_id = id;
    r.type = type;
    r.merchant.id = "m-1";
    r.amount = {amount, currency};
    if (is_follow_up(type)) r.original = OriginalRef{root, channel, "acq-eu-ref"};
    return r;
}

PaymentResult result(const PaymentRequest& r, ResultStatus s, int64_t at = 1000) {
    PaymentResult res;
    res.payment_id = r.payment_id;
    res.root_id = r.root_id();
    res.type = r.type;
    res.status = s;
    res.reason = {s == ResultStatus::approved ? "00" : "05", ""};
    res.amount = r.amount;
    res.merchant_id = r.merchant.id;
    res.channel = "acq-eu";
    res.channel_ref = "acq-eu-" + r.payment_id;
    res.approval_code = s == ResultStatus::approved ? "a1b2c3" : "";
    res.times.completed_at = at;
    return res;
}

// Runs a sequence written as `step | step | ...` through one router ledger. The first step
// is the original: `authorize 10000 approved` (or declined / pending), or `-` for none.
// Then a follow-up `<type> <amount>[@CUR][>channel]` (its approved result arrives at once),
// or with a trailing `~` (its result stays outstanding); `results approved|declined`
// answers the outstanding follow-ups and `original approved|declined` the pending original,
// after which held follow-ups are decided one at a time (a released one that is accepted is
// outstanding). Returns the verdicts: `ok`, `ok~`, `hold`, a rejection code; a released
// follow-up's verdict is prefixed `then:`.
std::string run(const std::string& sequence) {
    LifeCycleLedger ledger;
    std::vector<PaymentRequest> outstanding;
    std::map<std::string, PaymentRequest> held;
    std::optional<PaymentRequest> original;
    std::string out;
    std::stringstream steps(sequence);
    std::string step;
    int n = 0;
    auto verdict = [&](const std::string& v) { out += (out.empty() ? "" : " | ") + v; };
    auto decide = [&](const PaymentRequest& f, bool result_now, const std::string& prefix) {
        const auto d = ledger.check(f);
        if (d.verdict != FollowUpVerdict::accept) return verdict(prefix + (d.verdict == FollowUpVerdict::hold ? "hold" : d.reason.code));
        ledger.admit(f, 0);
        if (!result_now) {
            outstanding.push_back(f);
            return verdict(prefix + "ok~");
        }
        ledger.apply(result(f, ResultStatus::approved));
        verdict(prefix + "ok");
    };
    auto release = [&] {
        while (auto h = ledger.release_next("root")) decide(held.at(h->payment_id), false, "then:");
    };
    while (std::getline(steps, step, '|')) {
        std::stringstream ss(step);
        std::string type, amount_s, flag;
        ss >> type >> amount_s >> flag;
        if (n++ == 0) {
            if (type == "-") continue;
            original = request("root", *parse_payment_type(type), std::stoll(amount_s));
            ledger.admit(*original, 0);
            if (flag != "pending") ledger.apply(result(*original, *parse_result_status(flag)));
            continue;
        }
        if (type == "results") {
            const auto answered = std::exchange(outstanding, {});
            for (const auto& f : answered) ledger.apply(result(f, *parse_result_status(amount_s)));
            release();
            continue;
        }
        if (type == "original") {
            ledger.apply(result(*original, *parse_result_status(amount_s)));
            release();
            continue;
        }
        std::string currency = "EUR", channel = "acq-eu", merchant = "m-1";
        if (auto at = amount_s.find('#'); at != std::string::npos) {
            merchant = amount_s.substr(at + 1);
            amount_s.resize(at);
        }
        if (auto at = amount_s.find('>'); at != std::string::npos) {
            channel = amount_s.substr(at + 1);
            amount_s.resize(at);
        }
        if (auto at = amount_s.find('@'); at != std::string::npos) {
            currency = amount_s.substr(at + 1);
            amount_s.resize(at);
        }
        auto f = request("f" + std::to_string(n), *parse_payment_type(type), std::stoll(amount_s), "root", currency,
                         channel);
        f.merchant.id = merchant;
        if (ledger.must_hold(f)) {
            ledger.hold({"root", f.payment_id, "{}", "", 0});
            held.emplace(f.payment_id, f);
            verdict("hold");
            continue;
        }
        decide(f, flag != "~", "");
    }
    return out;
}

}  // namespace

TEST_CASE("life-cycle sequences: what the router lets through and what it refuses") {
    struct Case {
        const char* name;
        const char* sequence;
        const char* expected;
    };
    const Case cases[] = {
        {"full capture", "authorize 10000 approved | capture 10000", "ok"},
        {"two partial captures then a refund", "authorize 10000 approved | capture 6000 | capture 4000 | refund 2500",
         "ok | ok | ok"},
        {"partial captures beyond the authorized amount",
         "authorize 10000 approved | capture 6000 | capture 3000 | capture 2000 | capture 1000",
         "ok | ok | capture_exceeds_authorized | ok"},
        {"one capture above the authorized amount", "authorize 10000 approved | capture 10001",
         "capture_exceeds_authorized"},
        {"a second capture waits for the first one's result, then is refused",
         "authorize 10000 approved | capture 6000 ~ | capture 6000 | results approved",
         "ok~ | hold | then:capture_exceeds_authorized"},
        {"a second capture waits; the first is declined, so it passes",
         "authorize 10000 approved | capture 6000 ~ | capture 6000 | results declined", "ok~ | hold | then:ok~"},
        {"a refund right behind a capture waits for it",
         "authorize 10000 approved | capture 4000 ~ | refund 4000 | results approved | results approved",
         "ok~ | hold | then:ok~"},
        {"capture of a declined authorization", "authorize 10000 declined | capture 100", "original_not_approved"},
        {"capture of a sale", "sale 5000 approved | capture 100", "capture_not_authorization"},
        {"void, then capture", "authorize 10000 approved | void 10000 | capture 100", "ok | capture_after_void"},
        {"a capture behind a void in flight", "authorize 10000 approved | void 10000 ~ | capture 100 | results approved",
         "ok~ | hold | then:capture_after_void"},
        {"void twice", "authorize 10000 approved | void 10000 | void 10000", "ok | already_voided"},
        {"void after a partial capture", "authorize 10000 approved | capture 100 | void 10000", "ok | void_after_capture"},
        {"void of a sale", "sale 5000 approved | void 5000", "void_not_authorization"},
        {"refunds up to the sale amount", "sale 5000 approved | refund 2000 | refund 3000 | refund 1",
         "ok | ok | refund_exceeds_captured"},
        {"refund of an uncaptured authorization", "authorize 10000 approved | refund 100", "refund_exceeds_captured"},
        {"refund up to the captured amount only", "authorize 10000 approved | capture 3000 | refund 3001 | refund 3000",
         "ok | refund_exceeds_captured | ok"},
        {"refund after void", "authorize 10000 approved | void 10000 | refund 100", "ok | refund_exceeds_captured"},
        {"follow-up of an unknown original", "- | capture 100", "original_unknown"},
        {"refund of an unknown original", "- | refund 100", "original_unknown"},
        {"follow-up in another currency", "authorize 10000 approved | capture 100@USD", "currency_mismatch"},
        {"follow-up to another channel", "authorize 10000 approved | capture 100>psp-global",
         "original_channel_mismatch"},
        {"follow-ups wait for a pending original, then go one at a time",
         "authorize 10000 pending | capture 4000 | void 0 | original approved | results approved",
         "hold | hold | then:ok~ | then:void_after_capture"},
        {"follow-ups of a declined pending original", "authorize 10000 pending | capture 4000 | original declined",
         "hold | then:original_not_approved"},
        {"capture of another merchant's authorization", "authorize 10000 approved | capture 100#m-2",
         "merchant_mismatch"},
        {"refund of another merchant's sale", "sale 5000 approved | refund 100#m-2", "merchant_mismatch"},
        {"void of another merchant's authorization, then the owner's void",
         "authorize 10000 approved | void 10000#m-2 | void 10000", "merchant_mismatch | ok"},
        {"another merchant's follow-up is refused at once, not held behind a pending original",
         "authorize 10000 pending | capture 100#m-2", "merchant_mismatch"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(run(c.sequence) == c.expected);
    }
}

TEST_CASE("in-flight amounts count when a follow-up is decided without waiting (after the hold expired)") {
    LifeCycleLedger ledger;
    auto auth = request("A1", PaymentType::authorize, 10000);
    ledger.admit(auth, 0);
    ledger.apply(result(auth, ResultStatus::approved));
    ledger.admit(request("C1", PaymentType::capture, 6000, "A1"), 0);
    CHECK(ledger.check(request("C2", PaymentType::capture, 6000, "A1")).reason.code == "capture_exceeds_authorized");
    CHECK(ledger.check(request("C2", PaymentType::capture, 4000, "A1")).verdict == FollowUpVerdict::accept);
    CHECK(ledger.check(request("V1", PaymentType::void_, 10000, "A1")).reason.code == "void_after_capture");
    auto sale = request("S1", PaymentType::sale, 5000);
    ledger.admit(sale, 0);
    ledger.apply(result(sale, ResultStatus::approved));
    ledger.admit(request("R1", PaymentType::refund, 4000, "S1"), 0);
    CHECK(ledger.check(request("R2", PaymentType::refund, 2000, "S1")).reason.code == "refund_exceeds_captured");
    ledger.admit(request("V9", PaymentType::void_, 1, "A2"), 0);  // unknown root: nothing to reserve against
    CHECK(ledger.find("A2") == nullptr);
}

TEST_CASE("the state view: amounts, status and history from results") {
    auto auth = request("A1", PaymentType::authorize, 10000);
    auto c1 = request("C1", PaymentType::capture, 6000, "A1");
    auto c2 = request("C2", PaymentType::capture, 4000, "A1");
    auto c3 = request("C3", PaymentType::capture, 1, "A1");
    auto r1 = request("R1", PaymentType::refund, 2500, "A1");
    auto lc = life_cycle_from_result(result(auth, ResultStatus::approved, 1000));
    REQUIRE(lc);
    CHECK(lc->status() == "pending");
    CHECK(apply_result(*lc, result(auth, ResultStatus::approved, 1000), true));
    CHECK(lc->status() == "authorized");
    CHECK(lc->authorized == 10000);
    CHECK(lc->approval_code == "a1b2c3");
    CHECK(lc->channel_ref == "acq-eu-A1");
    CHECK(apply_result(*lc, result(c1, ResultStatus::approved, 2000), true));
    CHECK(lc->status() == "partially_captured");
    CHECK_FALSE(apply_result(*lc, result(c1, ResultStatus::approved, 2000), true));  // the same result again
    CHECK(apply_result(*lc, result(c2, ResultStatus::approved, 3000), true));
    CHECK(lc->status() == "captured");
    auto refused = result(c3, ResultStatus::rejected, 3500);
    refused.reason.code = "capture_exceeds_authorized";
    CHECK(apply_result(*lc, refused, true));
    CHECK(lc->captured == 10000);
    CHECK(apply_result(*lc, result(r1, ResultStatus::approved, 4000), true));
    CHECK(lc->status() == "partially_refunded");
    CHECK(lc->refunded == 2500);
    auto dup = result(r1, ResultStatus::rejected, 5000);
    dup.reason.code = "duplicate_request";
    CHECK_FALSE(apply_result(*lc, dup, true));
    REQUIRE(lc->history.size() == 5);
    CHECK(lc->history[3].reason_code == "capture_exceeds_authorized");
    CHECK(lc->updated_at_ms == 4000);

    const auto back = decode_life_cycle(encode_life_cycle(*lc));
    REQUIRE(back);
    CHECK(back->status() == "partially_refunded");
    CHECK(back->captured == 10000);
    CHECK(back->history.size() == 5);
    CHECK(back->history[1].payment_id == "C1");
    CHECK(encode_life_cycle(*back) == encode_life_cycle(*lc));
    CHECK(render_life_cycle(*lc).find("partially_refunded") != std::string::npos);

    // A voided authorization.
    auto a2 = request("A2", PaymentType::authorize, 700);
    auto v2 = request("V2", PaymentType::void_, 700, "A2");
    auto lc2 = *life_cycle_from_result(result(a2, ResultStatus::approved));
    apply_result(lc2, result(a2, ResultStatus::approved), true);
    apply_result(lc2, result(v2, ResultStatus::approved), true);
    CHECK(lc2.status() == "voided");
    CHECK(lc2.voided == 700);
    // A follow-up of a payment never seen, and duplicate answers, open nothing.
    CHECK_FALSE(life_cycle_from_result(result(c1, ResultStatus::approved)));
}

TEST_CASE("the router's ledger: abort undoes, the changelog replays, held follow-ups survive") {
    LifeCycleLedger ledger;
    auto auth = request("A1", PaymentType::authorize, 10000);
    ledger.admit(auth, 0);
    ledger.apply(result(auth, ResultStatus::approved));
    auto changes = ledger.take_changes();
    REQUIRE(changes.size() == 1);
    ledger.commit();

    // A capture accepted, then the transaction aborts: it is no longer in flight.
    auto c1 = request("C1", PaymentType::capture, 8000, "A1");
    ledger.admit(c1, 0);
    CHECK(ledger.check(request("C2", PaymentType::capture, 8000, "A1")).verdict == FollowUpVerdict::reject);
    ledger.abort();
    CHECK(ledger.check(request("C2", PaymentType::capture, 8000, "A1")).verdict == FollowUpVerdict::accept);

    // Committed in flight, and a pending original with a held capture, survive a replay.
    ledger.admit(c1, 0);
    auto a2 = request("A2", PaymentType::authorize, 500);
    ledger.admit(a2, 0);
    auto c2 = request("C9", PaymentType::capture, 500, "A2");
    REQUIRE(ledger.must_hold(c2));
    ledger.hold({"A2", "C9", "{\"payment_id\":\"C9\"}", "00-abc-def-01", 42});
    changes = ledger.take_changes();
    // A1 and A2 snapshots, and the held request as a record of its own: the snapshot names it.
    CHECK(changes.size() == 3);
    for (const auto& [key, value] : changes) {
        if (key == "A2") CHECK(value.find("\"held\":[\"C9\"]") != std::string::npos);
        if (key != "A2/C9") CHECK(value.find("{\\\"payment_id\\\":\\\"C9\\\"}") == std::string::npos);
    }
    CHECK(std::count_if(changes.begin(), changes.end(), [](const auto& c) { return c.first == "A2/C9"; }) == 1);
    ledger.commit();

    LifeCycleLedger rebuilt;
    for (const auto& [key, value] : changes) rebuilt.replay(key, value);
    rebuilt.finish_replay();
    CHECK(rebuilt.check(request("C2", PaymentType::capture, 2001, "A1")).reason.code == "capture_exceeds_authorized");
    CHECK(rebuilt.check(request("C2", PaymentType::capture, 2000, "A1")).verdict == FollowUpVerdict::accept);
    CHECK(rebuilt.held() == 1);
    CHECK_FALSE(rebuilt.release_next("A2"));  // the original has no result yet
    CHECK(rebuilt.apply(result(a2, ResultStatus::approved)));
    auto released = rebuilt.release_next("A2");
    REQUIRE(released);
    CHECK(released->request == "{\"payment_id\":\"C9\"}");
    CHECK(released->traceparent == "00-abc-def-01");
    CHECK(rebuilt.held() == 0);

    // Held too long: handed back for a final decision, in arrival order.
    LifeCycleLedger waiting;
    auto a3 = request("A3", PaymentType::authorize, 500);
    waiting.admit(a3, 0);
    waiting.hold({"A3", "C1", "{}", "", 100});
    waiting.hold({"A3", "C2", "{}", "", 200});
    CHECK(waiting.expire(1000, 60000).empty());
    auto expired = waiting.expire(60100, 60000);
    REQUIRE(expired.size() == 2);
    CHECK(expired[0].payment_id == "C1");
    CHECK(waiting.held() == 0);
}

TEST_CASE("held follow-ups are records of their own: no ledger record grows with what is held") {
    // A sale plus refunds padded to the largest request, all held while the sale is in flight:
    // the root's record stays small, each held request is one record, released ones tombstoned.
    LifeCycleLedger ledger;
    auto sale = request("S1", PaymentType::sale, 10000);
    ledger.admit(sale, 0);
    const std::string padded(65536, 'x');
    for (int i = 0; i < 9; ++i) {
        auto r = request("R" + std::to_string(i), PaymentType::refund, 100, "S1");
        REQUIRE(ledger.must_hold(r));
        ledger.hold({"S1", r.payment_id, padded, "", i});
    }
    size_t largest = 0, total = 0;
    for (const auto& [key, value] : ledger.take_changes()) {
        largest = std::max(largest, key.size() + value.size());
        total += value.size();
    }
    CHECK(total > 9 * 65536);
    CHECK(largest < 65536 + 1024);
    ledger.commit();
    REQUIRE(ledger.apply(result(sale, ResultStatus::approved)));
    auto first = ledger.release_next("S1");
    REQUIRE(first);
    bool tombstone = false;
    for (const auto& [key, value] : ledger.take_changes()) tombstone |= key == "S1/R0" && value.empty();
    CHECK(tombstone);
}

TEST_CASE("a payment_id the ledger answered stays answered, however long ago and after a replay") {
    LifeCycleLedger ledger;
    auto auth = request("A1", PaymentType::authorize, 10000);
    CHECK_FALSE(ledger.answered(auth));
    ledger.admit(auth, 0);
    CHECK(ledger.answered(auth));  // in flight
    ledger.apply(result(auth, ResultStatus::approved));
    auto c1 = request("C1", PaymentType::capture, 4000, "A1");
    CHECK_FALSE(ledger.answered(c1));
    ledger.admit(c1, 0);
    CHECK(ledger.answered(c1));  // in flight
    ledger.apply(result(c1, ResultStatus::approved));
    CHECK(ledger.answered(c1));  // answered
    auto c2 = request("C2", PaymentType::capture, 9000, "A1");
    CHECK(ledger.check(c2).reason.code == "capture_exceeds_authorized");
    ledger.refused(c2);
    CHECK(ledger.answered(c2));  // refused by a rule: answered too
    auto other = request("C3", PaymentType::capture, 100, "A1");
    CHECK_FALSE(ledger.answered(other));
    auto mine = request("C1", PaymentType::capture, 4000, "A9");  // same id, another payment
    CHECK_FALSE(ledger.answered(mine));

    LifeCycleLedger rebuilt;
    for (const auto& [key, value] : ledger.take_changes()) rebuilt.replay(key, value);
    rebuilt.finish_replay();
    CHECK(rebuilt.answered(auth));
    CHECK(rebuilt.answered(c1));
    CHECK(rebuilt.answered(c2));
    CHECK_FALSE(rebuilt.answered(other));
}

TEST_CASE("a rejected answer to another copy of a payment in flight does not end it") {
    LifeCycleLedger ledger;
    auto auth = request("A1", PaymentType::authorize, 10000);
    ledger.admit(auth, 0);
    for (const char* code : {"key_mismatch", "duplicate_request", "invalid_metadata"}) {
        auto copy = result(auth, ResultStatus::rejected);
        copy.reason.code = code;
        CHECK_FALSE(ledger.apply(copy));
        CHECK_FALSE(ledger.find("A1")->original_status);
    }
    CHECK(ledger.apply(result(auth, ResultStatus::approved)));
    CHECK(ledger.find("A1")->status() == "authorized");
    // The state view ignores the answers to copies too.
    auto copy = result(auth, ResultStatus::rejected);
    copy.reason.code = "key_mismatch";
    CHECK_FALSE(life_cycle_from_result(copy));
    auto lc = *life_cycle_from_result(result(auth, ResultStatus::approved));
    CHECK_FALSE(apply_result(lc, copy, true));
}

TEST_CASE("a payment takes a bounded number of follow-ups") {
    LifeCycleLedger ledger;
    auto sale = request("S1", PaymentType::sale, 1'000'000);
    ledger.admit(sale, 0);
    ledger.apply(result(sale, ResultStatus::approved));
    for (size_t i = 0; i < kMaxFollowUpsPerPayment; ++i) {
        auto r = request("R" + std::to_string(i), PaymentType::refund, 1, "S1");
        REQUIRE(ledger.check(r).verdict == FollowUpVerdict::accept);
        ledger.admit(r, 0);
        ledger.apply(result(r, ResultStatus::approved));
    }
    CHECK(ledger.check(request("R-last", PaymentType::refund, 1, "S1")).reason.code == "too_many_follow_ups");
}

TEST_CASE("GET /payments/{id}: the handler's answer, 404 for unknown ids, 400 for malformed ones") {
    StatusServer server("127.0.0.1", 0, [](std::string_view id) {
        if (id == "ord-1001:1") return StatusReply{200, "{\"root_id\":\"ord-1001:1\"}"};
        return StatusReply{404, "{\"error\":\"unknown_payment\"}"};
    });
    REQUIRE(server.port() > 0);
    auto found = fetch_payment_status("127.0.0.1", server.port(), "ord-1001:1");
    CHECK(found.status == 200);
    CHECK(found.body == "{\"root_id\":\"ord-1001:1\"}");
    CHECK(fetch_payment_status("127.0.0.1", server.port(), "ord-1002:1").status == 404);
    CHECK(fetch_payment_status("127.0.0.1", server.port(), "bad%20id").status == 400);
    CHECK(fetch_payment_status("127.0.0.1", server.port(), "").status == 400);
    CHECK_THROWS_AS(fetch_payment_status("127.0.0.1", 1, "x", 500), std::runtime_error);
}

TEST_CASE("partition of a root id: murmur2 as the producers hash keys") {
    // Within range; the integration test checks it against where the broker actually put each
    // result and state record.
    for (int32_t n : {1, 6, 12, 64}) {
        const int32_t p = partition_for_key("ord-1001:1", n);
        CHECK(p >= 0);
        CHECK(p < n);
        CHECK(partition_for_key("ord-1001:1", n) == p);
    }
    // The Java client's Utils.murmur2 test values (made positive): the same partitioner.
    CHECK(partition_for_key("21", INT32_MAX) == (-973932308 & 0x7fffffff));
    CHECK(partition_for_key("foobar", INT32_MAX) == (-790332482 & 0x7fffffff));
    CHECK(partition_for_key("abc", INT32_MAX) == 479470107);
    std::set<int32_t> spread;
    for (int i = 0; i < 100; ++i) spread.insert(partition_for_key("p-" + std::to_string(i), 6));
    CHECK(spread.size() == 6);
}

TEST_CASE("a root id is searched in every partition, murmur2's first") {
    struct Case {
        const char* root;
        int32_t partitions;
    };
    for (const Case c : {Case{"ord-1001:1", 1}, Case{"ord-1001:1", 6}, Case{"p-7", 12}, Case{"", 3}}) {
        CAPTURE(c.root);
        CAPTURE(c.partitions);
        const auto order = partitions_to_search(c.root, c.partitions);
        REQUIRE(order.size() == static_cast<size_t>(c.partitions));
        CHECK(order.front() == partition_for_key(c.root, c.partitions));
        CHECK(std::set<int32_t>(order.begin(), order.end()).size() == order.size());  // each once
        for (int32_t p : order) CHECK((p >= 0 && p < c.partitions));
    }
    CHECK(partitions_to_search("x", 0).empty());
}
