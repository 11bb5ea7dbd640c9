// Clearing records, cut-off windows, batch closing and rollback, clearing files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "settlement/batch_book.hpp"
#include "settlement/batch_log.hpp"
#include "settlement/clearing_file.hpp"

using namespace turnout;

namespace {
PaymentResult approved(PaymentType t, int64_t value, const char* currency = "EUR", const char* channel = "acq-eu",
                       int64_t at = 1'000'000) {
    PaymentResult r;
    r.payment_id = "p" + std::to_string(value) + std::string(to_string(t));
    r.type = t;
    r.status = ResultStatus::approved;
    r.amount = Money{value, currency};
    r.channel = channel;
    r.times.completed_at = at;
    return r;
}
}  // namespace

TEST_CASE("clearing records: approved sale/capture +, refund −, nothing else") {
    struct Case {
        PaymentType type;
        ResultStatus status;
        std::optional<int64_t> amount;
    };
    const Case cases[] = {
        {PaymentType::sale, ResultStatus::approved, 500},     {PaymentType::capture, ResultStatus::approved, 500},
        {PaymentType::refund, ResultStatus::approved, -500},  {PaymentType::authorize, ResultStatus::approved, {}},
        {PaymentType::void_, ResultStatus::approved, {}},     {PaymentType::sale, ResultStatus::declined, {}},
        {PaymentType::refund, ResultStatus::failed, {}},      {PaymentType::sale, ResultStatus::rejected, {}},
    };
    for (const auto& c : cases) {
        auto r = approved(c.type, 500);
        r.status = c.status;
        auto cr = clearing_record_for(r);
        CHECK(cr.has_value() == c.amount.has_value());
        if (cr) CHECK(cr->amount == *c.amount);
    }
}

TEST_CASE("batches by channel, currency and window; closed at end + grace; totals exact") {
    BatchBook book(10'000, 2'000, "0");
    book.add(*clearing_record_for(approved(PaymentType::sale, 1000, "EUR", "acq-eu", 1'000'000)), 1'000'500);
    book.add(*clearing_record_for(approved(PaymentType::refund, 300, "EUR", "acq-eu", 1'005'000)), 1'005'500);
    book.add(*clearing_record_for(approved(PaymentType::sale, 700, "USD", "acq-eu", 1'005'000)), 1'005'500);
    book.add(*clearing_record_for(approved(PaymentType::capture, 50, "EUR", "acq-eu", 1'010'000)), 1'010'100);
    CHECK(book.open_batches() == 3);
    CHECK(book.close_due(1'012'000).empty());  // records not committed yet: the batch waits
    book.checkpoint();
    CHECK(book.close_due(1'011'999).empty());
    auto closed = book.close_due(1'012'000);
    REQUIRE(closed.size() == 2);
    int64_t eur_net = 0;
    for (const auto& b : closed) {
        CHECK(b.summary.window_start_ms == 1'000'000);
        CHECK(b.summary.window_end_ms == 1'010'000);
        if (b.summary.currency == "EUR") {
            CHECK(b.summary.debit_total == 1000);
            CHECK(b.summary.credit_total == 300);
            CHECK(b.summary.record_count == 2);
            eur_net = b.summary.net;
        }
    }
    CHECK(eur_net == 700);
    CHECK(book.open_batches() == 1);
}

TEST_CASE("a late record whose window has closed goes to the current window") {
    BatchBook book(10'000, 2'000, "");
    book.add(*clearing_record_for(approved(PaymentType::sale, 1, "EUR", "a", 1'000'000)), 1'000'000);
    book.checkpoint();
    REQUIRE(book.close_due(1'012'000).size() == 1);
    const auto& b = book.add(*clearing_record_for(approved(PaymentType::sale, 2, "EUR", "a", 1'003'000)), 1'013'000);
    CHECK(b.summary.window_start_ms == 1'010'000);
}

TEST_CASE("rollback undoes adds and closes since the last checkpoint") {
    BatchBook book(10'000, 0, "");
    book.add(*clearing_record_for(approved(PaymentType::sale, 100)), 1'000'000);
    book.checkpoint();
    book.add(*clearing_record_for(approved(PaymentType::sale, 200)), 1'000'000);
    book.rollback();  // the 200 will be replayed from Kafka
    book.checkpoint();
    auto closed = book.close_due(1'010'000);
    REQUIRE(closed.size() == 1);
    book.rollback();  // the close's transaction aborted: the batch is open again
    auto again = book.close_due(1'010'000);
    REQUIRE(again.size() == 1);
    CHECK(again[0].summary.debit_total == 100);
    CHECK(again[0].summary.record_count == 1);
    CHECK(again[0].summary.batch_id == closed[0].summary.batch_id);
}

TEST_CASE("replaying the changelog rebuilds the same open batches, and closed ones stay closed") {
    BatchBook live(10'000, 2'000, "p3");
    std::vector<std::pair<ClearingRecord, int64_t>> log;
    for (int i = 1; i <= 5; ++i) {
        auto rec = *clearing_record_for(approved(PaymentType::sale, 100 * i, "EUR", "acq-eu", 1'000'000 + i * 4000));
        const auto& b = live.add(rec, 1'000'000 + i * 4000);
        log.emplace_back(rec, b.summary.window_start_ms);
    }
    live.checkpoint();
    auto closed = live.close_due(1'012'000);  // the first window [1'000'000, 1'010'000)
    REQUIRE(closed.size() == 1);
    live.checkpoint();

    BatchBook rebuilt(10'000, 2'000, "p3");
    for (const auto& [rec, window] : log) rebuilt.replay_add(rec, window);
    rebuilt.replay_close("acq-eu", "EUR", closed[0].summary.window_start_ms);
    CHECK(rebuilt.open_batches() == live.open_batches());
    auto a = live.close_due(2'000'000);
    auto b = rebuilt.close_due(2'000'000);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].summary.batch_id == b[i].summary.batch_id);
        CHECK(a[i].summary.net == b[i].summary.net);
        CHECK(render_clearing_csv(a[i]) == render_clearing_csv(b[i]));
    }
    // A late record for the closed window goes to the current one, in both.
    auto late = *clearing_record_for(approved(PaymentType::sale, 7, "EUR", "acq-eu", 1'001'000));
    CHECK(rebuilt.add(late, 1'013'000).summary.window_start_ms == 1'010'000);
}

TEST_CASE("batch changelog entries round trip") {
    auto rec = *clearing_record_for(approved(PaymentType::refund, 250, "GBP", "psp", 1'234'567));
    rec.merchant_id = "m-1";
    rec.channel_ref = "psp-9";
    const auto add = decode_batch_log(encode_batch_log({BatchLogEntry::Op::add, "psp", "GBP", 1'230'000, rec}));
    REQUIRE(add);
    CHECK(add->op == BatchLogEntry::Op::add);
    CHECK(add->record.amount == -250);
    CHECK(add->record.channel_ref == "psp-9");
    CHECK(add->window_start_ms == 1'230'000);
    const auto close = decode_batch_log(encode_batch_log({BatchLogEntry::Op::close, "psp", "GBP", 1'230'000, {}}));
    REQUIRE(close);
    CHECK(close->op == BatchLogEntry::Op::close);
    CHECK_FALSE(decode_batch_log("{\"op\":\"add\"}"));
}

TEST_CASE("clearing file: header, rows, trailer, digest, atomic name") {
    BatchBook book(10'000, 0, "0");
    book.add(*clearing_record_for(approved(PaymentType::sale, 1250)), 1'000'000);
    book.add(*clearing_record_for(approved(PaymentType::refund, 250)), 1'000'000);
    book.checkpoint();
    auto batches = book.close_due(1'010'000);
    REQUIRE(batches.size() == 1);
    const auto dir = std::filesystem::temp_directory_path() / "turnout-clearing-test";
    std::filesystem::remove_all(dir);
    write_clearing_file(dir.string(), batches[0]);
    std::ifstream f(dir / batches[0].summary.file);
    std::stringstream ss;
    ss << f.rdbuf();
    const auto body = ss.str();
    CHECK(body.rfind("batch_id,payment_id,type", 0) == 0);
    CHECK(body.find("TRAILER,2,1250,250,1000\n") != std::string::npos);
    CHECK(batches[0].summary.sha256 == sha256_hex(body));
    CHECK(std::distance(std::filesystem::directory_iterator(dir), {}) == 1);  // no temp file left behind
    // Closing the same batch again (after a crash) keeps the file; other contents are refused.
    CHECK_NOTHROW(write_clearing_file(dir.string(), batches[0]));
    batches[0].records.pop_back();
    CHECK_THROWS(write_clearing_file(dir.string(), batches[0]));
    std::filesystem::remove_all(dir);
}
