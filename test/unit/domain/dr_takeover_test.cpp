// The DR takeover's decisions (domain/dr_takeover.hpp), by tables of cases.
#include <doctest/doctest.h>

#include "domain/dr_takeover.hpp"

using namespace turnout;

namespace {
PaymentResult result(const char* id, ResultStatus s, const char* code = "") {
    PaymentResult r;
    r.payment_id = id;
    r.status = s;
    r.reason.code = code;
    return r;
}
}  // namespace

TEST_CASE("dr takeover: in flight = the first request of each payment_id with no final result") {
    struct Case {
        const char* name;
        std::vector<ReplicatedRequest> requests;
        std::vector<PaymentResult> results;
        std::vector<std::string> want;
    };
    const Case cases[] = {
        {"nothing replicated", {}, {}, {}},
        {"every request answered", {{"a", "a"}, {"b", "b"}},
         {result("a", ResultStatus::approved), result("b", ResultStatus::declined)}, {}},
        {"a request without its result", {{"a", "a"}, {"b", "b"}}, {result("a", ResultStatus::approved)}, {"b"}},
        {"a result without its request (the request was older than the window)", {{"b", "b"}},
         {result("a", ResultStatus::approved)}, {"b"}},
        {"a request sent twice and unanswered: once", {{"a", "a"}, {"a", "a"}}, {}, {"a"}},
        {"only the duplicate's answer arrived: still in flight", {{"a", "a"}, {"a", "a"}},
         {result("a", ResultStatus::rejected, "duplicate_request")}, {"a"}},
        {"a key_mismatch answer is no result either", {{"a", "a"}},
         {result("a", ResultStatus::rejected, "key_mismatch")}, {"a"}},
        {"a rejection is a final result", {{"a", "a"}}, {result("a", ResultStatus::rejected, "no_route")}, {}},
        {"failed and reversed are final", {{"a", "a"}, {"b", "b"}},
         {result("a", ResultStatus::failed), result("b", ResultStatus::reversed)}, {}},
        {"a follow-up in flight, its original answered", {{"s", "s"}, {"c", "s"}},
         {result("s", ResultStatus::approved)}, {"c"}},
        {"order of the requests kept", {{"c", "c"}, {"a", "a"}, {"b", "b"}}, {}, {"c", "a", "b"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(in_flight(c.requests, c.results) == c.want);
    }
    // Left to the DR site's stages (held, pending) or settled by the replicated log.
    CHECK(in_flight({{"a", "a"}, {"b", "b"}, {"c", "c"}}, {}, {"b"}) == std::vector<std::string>{"a", "c"});
    CHECK(in_flight({{"a", "a"}}, {}, {"a"}).empty());
}

TEST_CASE("dr takeover: settlement resumes at the first settling result its replicated log does not hold") {
    struct Case {
        const char* name;
        std::vector<ResultAt> results;
        std::unordered_set<std::string> logged;
        int64_t want;
        std::unordered_set<std::string> filed = {};
    };
    const Case cases[] = {
        {"nothing at DR", {}, {}, 100},
        {"every settling result logged: the end", {{5, "a", true}, {6, "b", false}, {7, "c", true}}, {"a", "c"}, 100},
        {"the log behind the results", {{5, "a", true}, {6, "b", true}, {7, "c", true}}, {"a"}, 6},
        {"results that settle nothing before the gap are skipped over",
         {{5, "a", true}, {6, "x", false}, {7, "y", false}, {8, "c", true}}, {"a"}, 8},
        {"nothing logged", {{5, "a", false}, {6, "b", true}}, {}, 6},
        {"the log ahead of the results (results lost): the end", {{5, "a", true}}, {"a", "z"}, 100},
        {"adds compacted away before the last logged one are settled", {{5, "a", true}, {6, "b", true}, {7, "c", true}},
         {"b"}, 7},
        {"results in adopted files past the log are skipped", {{5, "a", true}, {6, "b", true}, {7, "c", true}, {8, "d", true}},
         {"a"}, 7, {"b", "d"}},
        {"everything past the log in adopted files: the end", {{5, "a", true}, {6, "b", true}, {7, "c", true}}, {"a"},
         100, {"b", "c"}},
        {"nothing logged, the first ones filed", {{5, "a", true}, {6, "b", true}}, {}, 6, {"a"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(settlement_resume_offset(c.results, c.logged, c.filed, 100) == c.want);
    }
}

TEST_CASE("dr takeover: a result restored from a replicated clearing record") {
    ClearingRecord sale{"p-1", PaymentType::sale, "acq-eu", "m-1", "EUR", 1250, "iso8583:0200:1", 777, 30};
    auto r = result_from_clearing(sale, "p-1");
    CHECK(r.status == ResultStatus::approved);
    CHECK(r.reason.code == "restored_from_settlement_log");
    REQUIRE(r.amount);
    CHECK(r.amount->value == 1250);
    CHECK(r.amount->currency == "EUR");
    CHECK(r.type == PaymentType::sale);
    CHECK(r.channel == "acq-eu");
    CHECK(r.channel_ref == "iso8583:0200:1");
    CHECK(r.merchant_id == "m-1");
    CHECK(r.times.completed_at == 777);
    ClearingRecord refund{"r-1", PaymentType::refund, "acq-eu", "m-1", "EUR", -400, "ref", 778, 0};
    r = result_from_clearing(refund, "p-1");
    CHECK(r.amount->value == 400);
    CHECK(r.root_id == "p-1");
    CHECK(r.payment_id == "r-1");
    CHECK(result_from_clearing(refund, "").root_id == "r-1");
}

TEST_CASE("dr takeover: a result restored from a delivered clearing file") {
    ClearingRecord sale{"p-1", PaymentType::sale, "acq-eu", "m-1", "EUR", 1250, "iso8583:0200:1", 777, 30};
    const auto r = result_from_clearing(sale, "p-1", ClearingEvidence::clearing_file);
    CHECK(r.status == ResultStatus::approved);
    CHECK(r.reason.code == "restored_from_clearing_file");
    CHECK(is_restored_result(r));
    CHECK(is_restored_result(result_from_clearing(sale, "p-1")));
    CHECK_FALSE(is_restored_result(result("p-1", ResultStatus::approved, "approved")));
    CHECK_FALSE(is_restored_result(result("p-1", ResultStatus::declined, "restored_from_clearing_file")));
}

TEST_CASE("dr takeover: a held follow-up is left to the router unless the same payment_id is in flight") {
    struct Case {
        const char* name;
        std::string held;
        std::vector<InFlightFollowUp> root_in_flight;
        bool left_to_router;
    };
    const Case cases[] = {
        {"nothing in flight (held behind its original)", "c-2", {}, true},
        {"held behind another follow-up in flight", "c-2", {{"c-1", PaymentType::capture, 100}}, true},
        {"a resent copy held behind its own first copy", "c-1", {{"c-1", PaymentType::capture, 100}}, false},
        {"a resent copy, another in flight too", "r-1",
         {{"c-1", PaymentType::capture, 100}, {"r-1", PaymentType::refund, 50}}, false},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(held_for_router(c.held, c.root_in_flight) == c.left_to_router);
    }
}

TEST_CASE("dr takeover: a delivered clearing file's batch, by what DR holds of it") {
    struct Case {
        const char* name;
        bool announced, closed;
        FiledBatch want;
    };
    const Case cases[] = {
        {"neither summary nor close replicated", false, false, FiledBatch::adopt_and_announce},
        {"the summary replicated, not the close", true, false, FiledBatch::adopt},
        {"the close replicated, not the summary", false, true, FiledBatch::adopt_and_announce},
        {"both replicated", true, true, FiledBatch::skip},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(filed_batch(c.announced, c.closed) == c.want);
    }
}

TEST_CASE("dr takeover: a replicated pending entry") {
    struct Case {
        const char* name;
        bool answered, restored;
        PendingEntry want;
    };
    const Case cases[] = {
        {"still pending: the connector finishes it", false, false, PendingEntry::left_to_connector},
        {"its result replicated, its tombstone did not", true, false, PendingEntry::removed},
        {"its result restored from a clearing record", false, true, PendingEntry::removed},
        {"both", true, true, PendingEntry::removed},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(pending_entry(c.answered, c.restored) == c.want);
    }
}

TEST_CASE("dr takeover: a batch id's results partition") {
    struct Case {
        const char* id;
        std::optional<int32_t> want;
    };
    const Case cases[] = {
        {"psp-global.USD.20261203T024850Z.p3", 3},
        {"acq-eu.EUR.20261203T024850Z.p11", 11},
        {"acq-eu.EUR.20261203T024850Z.p0", 0},
        {"acq-eu.EUR.20261203T024850Z", std::nullopt},
        {"acq-eu.EUR.20261203T024850Z.p", std::nullopt},
        {"acq-eu.EUR.20261203T024850Z.px", std::nullopt},
        {"acq-eu.EUR.20261203T024850Z.p03", std::nullopt},
        {"acq-eu.EUR.20261203T024850Z.p-1", std::nullopt},
        {"acq-eu.EUR.20261203T024850Z.p99999999999", std::nullopt},
        {"", std::nullopt},
        {"p3", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.id);
        CHECK(batch_partition(c.id) == c.want);
    }
}

TEST_CASE("dr takeover: the result of an in-flight payment from the channels' answers") {
    using K = ChannelAnswer::Kind;
    struct Case {
        const char* name;
        std::vector<ChannelAnswer> answers;
        ResultStatus status;
        const char* reason;
        const char* channel;
    };
    const Case cases[] = {
        {"the PSP had approved it", {{"psp", K::approved, "00", "psp-1"}}, ResultStatus::approved, "00", "psp"},
        {"the host had declined it", {{"acq", K::declined, "51", ""}}, ResultStatus::declined, "51", "acq"},
        {"the first channel never saw it, the second approved (a fallback at the primary)",
         {{"acq-eu", K::not_found, "", ""}, {"acq-us", K::approved, "00", "r2"}}, ResultStatus::approved, "00", "acq-us"},
        {"an executing channel wins over a reversal elsewhere",
         {{"acq-eu", K::reversed, "00", ""}, {"psp", K::declined, "05", ""}}, ResultStatus::declined, "05", "psp"},
        {"the host reversed it", {{"acq", K::reversed, "00", "r"}}, ResultStatus::reversed, "00", "acq"},
        {"a reversal wins over unknown answers", {{"psp", K::unknown, "", ""}, {"acq", K::reversed, "00", ""}},
         ResultStatus::reversed, "00", "acq"},
        {"no channel received it", {{"acq-eu", K::not_found, "", ""}, {"psp", K::not_found, "", ""}},
         ResultStatus::rejected, "not_executed_before_failover", ""},
        {"one channel cannot say", {{"acq-eu", K::not_found, "", ""}, {"psp", K::unknown, "", ""}},
         ResultStatus::failed, "unknown_outcome", ""},
        {"no channel asked", {}, ResultStatus::failed, "unknown_outcome", ""},
        {"two channels executed it", {{"acq-eu", K::approved, "00", ""}, {"acq-us", K::approved, "00", ""}},
         ResultStatus::failed, "double_execution_at_primary", "acq-eu"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto r = takeover_result("p-1", "root-1", c.answers, 1234);
        CHECK(r.status == c.status);
        CHECK(r.reason.code == c.reason);
        CHECK(r.channel == c.channel);
        CHECK(r.payment_id == "p-1");
        CHECK(r.root_id == "root-1");
        CHECK(r.times.completed_at == 1234);
    }
}
