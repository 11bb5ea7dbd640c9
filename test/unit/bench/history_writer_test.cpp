// The benchmark's synthetic history: each payment's ledger entry and state record must be
// what the router and the state role would hold for it, or the history case measures a
// state the switch never has.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

#include "bench/history_writer.hpp"
#include "domain/life_cycle_ledger.hpp"
#include "state/state_stage.hpp"

using namespace turnout;

namespace {

PaymentRequest follow_up(const SyntheticPayment& p, const std::string& id, PaymentType type, int64_t amount) {
    PaymentRequest r;
    r.payment_id = id;
    r.type = type;
    r.merchant.id = p.ledger.merchant_id;
    r.amount = {amount, p.ledger.currency};
    r.original = OriginalRef{p.root_id, p.ledger.channel, p.ledger.channel_ref};
    return r;
}

// A router ledger that reads the payment's entry the way the router reads its store.
struct RouterView {
    std::string entry;
    LifeCycleLedger ledger;
    explicit RouterView(const SyntheticPayment& p) : entry(LifeCycleLedger::encode_entry(p.ledger, {})) {
        ledger.set_loader([this, root = p.root_id](const std::string& key) -> std::optional<std::string> {
            if (key == root) return entry;
            return std::nullopt;
        });
    }
};

}  // namespace

TEST_CASE("synthetic history: the mix of life cycles, every payment approved") {
    const int64_t at = 1'764'000'000'000;
    std::map<std::string, int> statuses;
    int follow_ups = 0;
    for (int64_t n = 0; n < 1200; ++n) {
        const auto p = synthetic_payment("h1", n, "acq-eu", at);
        CHECK(p.payment_ids.front() == p.root_id);
        CHECK(p.ledger.original_status == ResultStatus::approved);
        CHECK(p.ledger.in_flight.empty());
        CHECK(p.ledger.amount % 100 == 0);  // integer minor units, whole amounts
        CHECK(p.ledger.answered_follow_ups.size() == p.payment_ids.size() - 1);
        CHECK(p.state.history.size() == p.payment_ids.size());
        CHECK(p.state.status() == p.ledger.status());
        statuses[p.ledger.status()]++;
        follow_ups += static_cast<int>(p.payment_ids.size()) - 1;
    }
    // A quarter are authorizes captured in full (a third of them then partly refunded), one
    // sale in fifteen is partly refunded.
    CHECK(statuses["captured"] == 1200 - 100 - 60);
    CHECK(statuses["partially_refunded"] == 100 + 60);
    CHECK(statuses.size() == 2);
    CHECK(follow_ups == 300 + 100 + 60);
}

TEST_CASE("synthetic history: deterministic, and payment_ids differ by prefix") {
    const auto a = synthetic_payment("h1", 41, "acq-us", 1000);
    const auto b = synthetic_payment("h1", 41, "acq-us", 1000);
    CHECK(encode_life_cycle(a.state) == encode_life_cycle(b.state));
    CHECK(LifeCycleLedger::encode_entry(a.ledger, {}) == LifeCycleLedger::encode_entry(b.ledger, {}));
    CHECK(synthetic_payment("h2", 41, "acq-us", 1000).root_id != a.root_id);
}

TEST_CASE("synthetic history: the router's ledger entry answers like the router's own") {
    // n = 1: an authorize, captured in full, then half refunded.
    const auto p = synthetic_payment("h1", 1, "acq-eu", 1000);
    REQUIRE(p.payment_ids.size() == 3);
    const int64_t amount = p.ledger.amount;
    CHECK(p.ledger.kind == PaymentType::authorize);
    CHECK(p.ledger.captured == amount);
    CHECK(p.ledger.refunded == amount / 2);

    RouterView v(p);
    // The root and both follow-ups were answered: sent again, they are duplicates.
    PaymentRequest root;
    root.payment_id = p.root_id;
    root.type = PaymentType::authorize;
    CHECK(v.ledger.answered(root));
    CHECK(v.ledger.answered(follow_up(p, p.payment_ids[1], PaymentType::capture, amount)));
    CHECK(v.ledger.answered(follow_up(p, p.payment_ids[2], PaymentType::refund, amount / 2)));
    // A new refund: up to what is left of the capture, not one minor unit more.
    const auto left = amount - amount / 2;
    CHECK(v.ledger.check(follow_up(p, "h1-new1", PaymentType::refund, left)).verdict == FollowUpVerdict::accept);
    const auto over = v.ledger.check(follow_up(p, "h1-new2", PaymentType::refund, left + 1));
    CHECK(over.verdict == FollowUpVerdict::reject);
    CHECK(over.reason.code == life_cycle_code::refund_exceeds_captured);
    // Fully captured: a second capture is refused.
    CHECK(v.ledger.check(follow_up(p, "h1-new3", PaymentType::capture, 100)).reason.code ==
          life_cycle_code::capture_exceeds_authorized);
}

TEST_CASE("synthetic history: the state record decodes and indexes its follow-ups") {
    const auto p = synthetic_payment("h1", 1, "psp-global", 1000);
    const auto value = encode_life_cycle(p.state);
    const auto lc = decode_life_cycle(value);
    REQUIRE(lc);
    CHECK(lc->root_id == p.root_id);
    CHECK(lc->status() == "partially_refunded");
    CHECK(lc->channel == "psp-global");
    REQUIRE(lc->history.size() == 3);
    CHECK(lc->history[1].type == PaymentType::capture);
    CHECK(lc->history[2].type == PaymentType::refund);
    // What the state role's store derives from it: GET /payments/{follow-up id} finds the root.
    std::vector<std::string> index;
    StateStage::index_follow_ups(p.root_id, value, index);
    CHECK(index == std::vector<std::string>{"f/" + p.payment_ids[1], "f/" + p.payment_ids[2]});
}
