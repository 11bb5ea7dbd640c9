// SeriesCache (metrics/metrics.hpp): the series a component resolves by label values it only
// learns on the record path.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "../../metric_checks.hpp"

using namespace turnout;

TEST_CASE("series cache: one series per value set, with the fixed labels, found again without a new series") {
    auto& family = declare_counter("turnout_test_series_cache_total", "SeriesCache test family");
    SeriesCache<prometheus::Counter> cache(family, {{"stage", "t"}}, {"reason", "field"});
    struct Case {
        const char* reason;
        const char* field;
        int times;
    };
    const Case cases[] = {{"bad", "amount", 3}, {"bad", "currency", 1}, {"worse", "amount", 2}, {"", "", 1}};
    for (const auto& c : cases)
        for (int i = 0; i < c.times; ++i) cache({c.reason, c.field}).Increment();
    for (const auto& c : cases) {
        CAPTURE(c.reason);
        CAPTURE(c.field);
        CHECK(metric_value("turnout_test_series_cache_total", {{"stage", "t"}, {"reason", c.reason}, {"field", c.field}}) ==
              c.times);
    }
    // The same values give the same series; values are not run together ("ab","c" vs "a","bc").
    CHECK(&cache({"bad", "amount"}) == &cache({"bad", "amount"}));
    CHECK(&cache({"ab", "c"}) != &cache({"a", "bc"}));
}

TEST_CASE("series cache: threads counting the same new values each count once per increment") {
    auto& family = declare_counter("turnout_test_series_cache_threads_total", "SeriesCache test family");
    SeriesCache<prometheus::Counter> cache(family, {}, {"rule"});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) cache({i % 2 ? "odd" : "even"}).Increment();
        });
    for (auto& t : threads) t.join();
    CHECK(metric_value("turnout_test_series_cache_threads_total", {{"rule", "odd"}}) == 2000);
    CHECK(metric_value("turnout_test_series_cache_threads_total", {{"rule", "even"}}) == 2000);
}
