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
