// What a DR takeover reads from the channels' answers (dr/takeover.hpp), by a table of cases.
#include <doctest/doctest.h>

#include "dr/takeover.hpp"

using namespace turnout;

TEST_CASE("a cancel() outcome read by a DR takeover") {
    using K = ChannelOutcome::Kind;
    using A = ChannelAnswer::Kind;
    struct Case {
        K kind;
        const char* code;
        A want;
    };
    const Case cases[] = {
        {K::approved, "00", A::approved},
        {K::declined, "51", A::declined},
        {K::reversed, "original_not_found", A::not_found},  // ISO 25, PSP 404
        {K::reversed, "no_response", A::reversed},          // ISO 00 to the reversal
        {K::reversed, "cancelled", A::reversed},            // PSP cancelled a pending one
        {K::pending, "pending", A::unknown},
        {K::failed, "unknown_outcome", A::unknown},
        {K::soft_failure, "not_received", A::unknown},
    };
    for (const auto& c : cases) {
        CAPTURE(c.code);
        const auto a = takeover_answer("ch", ChannelOutcome{c.kind, c.code, "m", "ref", "A1"});
        CHECK(a.kind == c.want);
        CHECK(a.channel == "ch");
        CHECK(a.code == c.code);
        CHECK(a.channel_ref == "ref");
        CHECK(a.approval_code == "A1");
    }
}
