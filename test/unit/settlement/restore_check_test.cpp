// The restore check of clearing-file backups (settlement/restore_check.hpp), by a table of cases.
#include <doctest/doctest.h>

#include "settlement/restore_check.hpp"

using namespace turnout;

namespace {
BatchSummary batch(const char* id, int64_t records, int64_t debit, int64_t credit) {
    BatchSummary s;
    s.batch_id = id;
    s.currency = "EUR";
    s.record_count = records;
    s.debit_total = debit;
    s.credit_total = credit;
    s.net = debit - credit;
    return s;
}
RestoredFile file(const char* path, BatchSummary s) { return {path, ClearingFile{std::move(s), {}}, ""}; }
RestoredFile broken(const char* path) { return {path, std::nullopt, "signature does not match"}; }
RestoredFile unfinished(const char* path) { return {path, std::nullopt, "unfinished: no .sig", true}; }
}  // namespace

TEST_CASE("restore check: intact files for every announced batch, with its totals") {
    struct Case {
        const char* name;
        std::vector<RestoredFile> files;
        std::vector<BatchSummary> batches;
        size_t bad, missing, differing, unfinished = 0;
    };
    const auto a = batch("acq.EUR.1", 2, 500, 100), b = batch("acq.EUR.2", 1, 70, 0);
    const Case cases[] = {
        {"nothing", {}, {}, 0, 0, 0},
        {"every batch with its file", {file("p/a.csv", a), file("p/b.csv", b)}, {a, b}, 0, 0, 0},
        {"a batch announced twice (closed at both sites) with one file", {file("p/a.csv", a)}, {a, a}, 0, 0, 0},
        {"the same batch's file from both sites, equal", {file("p/a.csv", a), file("d/a.csv", a)}, {a}, 0, 0, 0},
        {"a file without an announced batch is fine (its summary did not replicate)", {file("p/a.csv", a)}, {}, 0, 0, 0},
        {"a batch without a file", {file("p/a.csv", a)}, {a, b}, 0, 1, 0},
        {"a file failing its signature does not count as the batch's", {broken("p/a.csv")}, {a}, 1, 1, 0},
        {"a file whose totals differ from the summary", {file("p/a.csv", batch("acq.EUR.1", 2, 500, 90))}, {a}, 0, 0, 1},
        {"two sites' files of one batch differ", {file("p/a.csv", a), file("d/a.csv", batch("acq.EUR.1", 1, 500, 0))},
         {a}, 0, 0, 1},
        {"one batch announced with two different totals", {file("p/a.csv", a)}, {a, batch("acq.EUR.1", 3, 9, 0)}, 0, 0, 1},
        {"an unfinished file (no .sig: the site stopped while writing it) is not damage", {unfinished("p/a.csv")}, {}, 0,
         0, 0, 1},
        {"an unfinished file is not the batch's", {unfinished("p/a.csv")}, {a}, 0, 1, 0, 1},
        {"an unfinished file at the lost site, the batch's file at DR", {unfinished("p/a.csv"), file("d/a.csv", a)}, {a},
         0, 0, 0, 1},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto r = check_restore(c.files, c.batches);
        CHECK(r.bad == c.bad);
        CHECK(r.missing == c.missing);
        CHECK(r.differing == c.differing);
        CHECK(r.unfinished == c.unfinished);
        CHECK(r.ok() == (c.bad + c.missing + c.differing == 0));
        CHECK(r.problems.size() == c.bad + c.missing + c.differing + c.unfinished);
        CHECK(r.files == c.files.size());
    }
}
