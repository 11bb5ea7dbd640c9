// Clearing records, cut-off windows, batch closing and rollback, clearing files.
#include <doctest/doctest.h>

#include "domain/dr_takeover.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "codec/messages.hpp"
#include "codec/text_checks.hpp"
#include "settlement/batch_book.hpp"
#include "settlement/batch_log.hpp"
#include "settlement/clearing_file.hpp"
#include "domain/fees.hpp"
#include "settlement/reconcile.hpp"
#include "settlement/settlement_stage.hpp"
#include "model/time.hpp"

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

TEST_CASE("clearing records: none of a result the DR takeover restored from a clearing record") {
    // Its record is in a batch already (the replicated settlement log, or a clearing file the
    // primary delivered): settlement reading it again must not settle it twice.
    struct Case {
        const char* code;
        bool settles;
    };
    const Case cases[] = {
        {"approved", true},
        {"restored_from_settlement_log", false},
        {"restored_from_clearing_file", false},
        {"restored_from_elsewhere", true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.code);
        auto r = approved(PaymentType::sale, 500);
        r.reason.code = c.code;
        CHECK(clearing_record_for(r).has_value() == c.settles);
    }
    const ClearingRecord rec{"p-1", PaymentType::capture, "psp", "m-1", "EUR", 900, "ref", 5, 0};
    CHECK_FALSE(clearing_record_for(result_from_clearing(rec, "a-1")));
    CHECK_FALSE(clearing_record_for(result_from_clearing(rec, "a-1", ClearingEvidence::clearing_file)));
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
    const auto settled = decode_batch_log(encode_batch_log({BatchLogEntry::Op::settled, "psp", "GBP", 1'230'000, rec}));
    REQUIRE(settled);
    CHECK(settled->op == BatchLogEntry::Op::settled);
    CHECK(settled->record.payment_id == rec.payment_id);
    CHECK(settled->record.amount == -250);
    CHECK(settled_key("p-1") == "settled/p-1");
    CHECK_FALSE(decode_batch_log("{\"op\":\"add\"}"));
    CHECK_FALSE(decode_batch_log("{\"op\":\"settled\",\"channel\":\"psp\",\"currency\":\"GBP\",\"window_start_ms\":1}"));
}

TEST_CASE("clearing files: CSV and fixed-width, digests and signatures, atomic names") {
    BatchBook book(10'000, 0, "0");
    auto sale = *clearing_record_for(approved(PaymentType::sale, 1250));
    sale.fee = 29;
    book.add(sale, 1'000'000);
    book.add(*clearing_record_for(approved(PaymentType::refund, 250)), 1'000'000);
    book.checkpoint();
    auto batches = book.close_due(1'010'000);
    REQUIRE(batches.size() == 1);
    const auto dir = std::filesystem::temp_directory_path() / "turnout-clearing-test";
    std::filesystem::remove_all(dir);
    const std::string key = "k3y";
    write_clearing_files(dir.string(), batches[0], hmac_signer(key));
    auto slurp = [](const std::filesystem::path& p) {
        std::ifstream f(p, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    };
    const auto body = slurp(dir / batches[0].summary.file);
    CHECK(body.rfind("HEADER,turnout-clearing-csv,1,acq-eu.EUR.19700101T001640Z.0,acq-eu,EUR,"
                     "1970-01-01T00:16:40.000Z,1970-01-01T00:16:50.000Z\n"
                     "batch_id,payment_id,type",
                     0) == 0);
    CHECK(body.find("TRAILER,2,1250,250,1000,29\n") != std::string::npos);
    CHECK(batches[0].summary.sha256 == sha256_hex(body));
    CHECK(batches[0].summary.fee_total == 29);
    const auto fixed = slurp(dir / batches[0].summary.fixed_width_file);
    CHECK(fixed.size() == 4 * (kFixedWidthRecord + 1));
    CHECK(batches[0].summary.fixed_width_sha256 == sha256_hex(fixed));
    std::string why;
    CHECK(verify_clearing_file((dir / batches[0].summary.file).string(), hmac_signer(key), why));
    CHECK(verify_clearing_file((dir / batches[0].summary.fixed_width_file).string(), hmac_signer(key), why));
    CHECK_FALSE(verify_clearing_file((dir / batches[0].summary.file).string(), hmac_signer("other key"), why));
    CHECK(why.find("HMAC") != std::string::npos);
    // csv, txt, and a .sha256 and .sig for each; no temp file left behind.
    CHECK(std::distance(std::filesystem::directory_iterator(dir), {}) == 6);
    // Closing the same batch again (after a crash) keeps the files; other contents are refused.
    CHECK_NOTHROW(write_clearing_files(dir.string(), batches[0], hmac_signer(key)));
    auto parsed = parse_clearing_csv(body, why);
    REQUIRE(parsed);
    CHECK(parsed->records.size() == 2);
    CHECK(parsed->records[0].fee == 29);
    CHECK(parsed->summary.net == 1000);
    CHECK(parsed->summary.window_end_ms == 1'010'000);
    CHECK_FALSE(parse_clearing_csv(std::string(body).replace(body.find("TRAILER,2,1250"), 14, "TRAILER,2,1251"), why));
    batches[0].records.pop_back();
    CHECK_THROWS(write_clearing_files(dir.string(), batches[0], hmac_signer(key)));
    std::filesystem::remove_all(dir);
}

TEST_CASE("fixed-width layout: positions of header, detail and trailer fields") {
    Batch b;
    b.summary.batch_id = "acq-eu.EUR.20261126T063000Z.p3";
    b.summary.channel = "acq-eu";
    b.summary.currency = "EUR";
    b.summary.window_start_ms = *parse_rfc3339("2026-11-26T06:30:00Z");
    b.summary.window_end_ms = *parse_rfc3339("2026-11-26T06:30:10Z");
    b.records = {{"pay-1", PaymentType::refund, "acq-eu", "m-17", "EUR", -500, "acq-eu-5c1e", 1795674605123, 0}};
    b.summary.record_count = 1;
    b.summary.credit_total = 500;
    b.summary.net = -500;
    const auto out = render_clearing_fixed_width(b);
    const auto h = out.substr(0, 257), d = out.substr(257, 257), t = out.substr(514, 257);
    // 1-based positions as documented in docs/settlement.md.
    auto at = [](const std::string& rec, size_t pos, size_t len) { return rec.substr(pos - 1, len); };
    CHECK(at(h, 1, 1) == "H");
    CHECK(at(h, 2, 64).rfind("acq-eu.EUR.20261126T063000Z.p3 ", 0) == 0);
    CHECK(at(h, 130, 3) == "EUR");
    CHECK(at(h, 133, 16) == "20261126T063000Z");
    CHECK(at(h, 149, 16) == "20261126T063010Z");
    CHECK(at(h, 165, 2) == "01");
    CHECK(at(d, 1, 1) == "D");
    CHECK(at(d, 2, 6) == "pay-1 ");
    CHECK(at(d, 66, 8) == "refund  ");
    CHECK(at(d, 74, 5) == "m-17 ");
    CHECK(at(d, 138, 19) == "-000000000000000500");
    CHECK(at(d, 157, 18) == "000000000000000000");
    CHECK(at(d, 175, 12) == "acq-eu-5c1e ");
    CHECK(at(d, 239, 18) == "20261126063005123Z");
    CHECK(at(t, 1, 19) == "T000000000000000001");
    CHECK(at(t, 20, 18) == "000000000000000000");
    CHECK(at(t, 38, 18) == "000000000000000500");
    CHECK(at(t, 56, 19) == "-000000000000000500");
    CHECK(t.size() == 257);
    CHECK(t.back() == '\n');
}

TEST_CASE("cut-off windows: (event time, rule) → window") {
    auto t = [](const char* s) { return *parse_rfc3339(s); };
    CutoffRule every10s{"c", 10, -1, 0};
    CutoffRule daily22utc{"c", 0, 22 * 60, 0};
    CutoffRule daily22berlin_winter{"c", 0, 22 * 60, 60};  // +01:00: 22:00 local = 21:00 UTC
    CutoffRule daily0030minus5{"c", 0, 30, -300};           // -05:00: 00:30 local = 05:30 UTC
    struct Case {
        CutoffRule rule;
        const char* event;
        const char* start;
        const char* end;
    };
    const Case cases[] = {
        {every10s, "2026-11-26T06:30:00.000Z", "2026-11-26T06:30:00Z", "2026-11-26T06:30:10Z"},
        {every10s, "2026-11-26T06:30:09.999Z", "2026-11-26T06:30:00Z", "2026-11-26T06:30:10Z"},
        {every10s, "2026-11-26T06:30:10.000Z", "2026-11-26T06:30:10Z", "2026-11-26T06:30:20Z"},
        {daily22utc, "2026-11-26T21:59:59.999Z", "2026-11-25T22:00:00Z", "2026-11-26T22:00:00Z"},
        {daily22utc, "2026-11-26T22:00:00.000Z", "2026-11-26T22:00:00Z", "2026-11-27T22:00:00Z"},
        {daily22berlin_winter, "2026-11-26T20:59:59.999Z", "2026-11-25T21:00:00Z", "2026-11-26T21:00:00Z"},
        {daily22berlin_winter, "2026-11-26T21:00:00.000Z", "2026-11-26T21:00:00Z", "2026-11-27T21:00:00Z"},
        {daily22berlin_winter, "2026-12-31T23:30:00.000Z", "2026-12-31T21:00:00Z", "2027-01-01T21:00:00Z"},
        {daily0030minus5, "2026-11-26T05:29:00.000Z", "2026-11-25T05:30:00Z", "2026-11-26T05:30:00Z"},
        {daily0030minus5, "2026-11-26T05:30:00.000Z", "2026-11-26T05:30:00Z", "2026-11-27T05:30:00Z"},
        {every10s, "1969-12-31T23:59:55.000Z", "1969-12-31T23:59:50Z", "1970-01-01T00:00:00Z"},
    };
    for (const auto& c : cases) {
        INFO(c.event);
        const auto w = window_at(cutoff_spec(c.rule), t(c.event));
        CHECK(format_rfc3339(w.start_ms) == format_rfc3339(t(c.start)));
        CHECK(format_rfc3339(w.end_ms) == format_rfc3339(t(c.end)));
    }
    // Per-channel plan with the interval fallback, and the batch book using it.
    SettlementConfig sc;
    sc.window_seconds = 10;
    sc.cutoffs = {{"acq-eu", 0, 22 * 60, 60}};
    const auto plan = CutoffPlan::from(sc);
    CHECK(plan.window("acq-eu", t("2026-11-26T12:00:00Z")).start_ms == t("2026-11-25T21:00:00Z"));
    CHECK(plan.window("psp-global", t("2026-11-26T12:00:05Z")).start_ms == t("2026-11-26T12:00:00Z"));
    BatchBook book(plan, 60'000, "p0");
    const auto& b = book.add(*clearing_record_for(approved(PaymentType::sale, 10, "EUR", "acq-eu", t("2026-11-26T12:00:00Z"))),
                             t("2026-11-26T12:00:01Z"));
    CHECK(b.summary.batch_id == "acq-eu.EUR.20261125T210000Z.p0");
    // A result after cut-off + grace goes to the next window; within grace it stays.
    const auto late = clearing_record_for(approved(PaymentType::sale, 20, "EUR", "acq-eu", t("2026-11-26T20:59:59Z")));
    CHECK(book.add(*late, t("2026-11-26T21:00:30Z")).summary.window_start_ms == t("2026-11-25T21:00:00Z"));
    CHECK(book.add(*late, t("2026-11-26T21:01:00Z")).summary.window_start_ms == t("2026-11-26T21:00:00Z"));
}

TEST_CASE("fees: fixed + basis points, half-up on the minor unit; refunds free") {
    struct Case {
        FeeRule rule;
        int64_t amount;
        int64_t fee;
    };
    const Case cases[] = {
        {{0, 150}, 10000, 150},     // 1.5 % of 100.00 = 1.50
        {{10, 150}, 10000, 160},    // + 0.10 fixed
        {{0, 150}, 100, 2},         // 1.5 exactly half → up
        {{0, 150}, 99, 1},          // 1.485 → 1
        {{0, 150}, 33, 0},          // 0.495 → 0
        {{0, 150}, 34, 1},          // 0.51 → 1
        {{0, 1}, 5000, 1},          // 0.5 → 1
        {{0, 1}, 4999, 0},          // 0.4999 → 0
        {{0, 10000}, 777, 777},     // 100 %
        {{25, 0}, 1, 25},           // fixed only
        {{10, 150}, -10000, 0},     // refund
        {{0, 10000}, 1'000'000'000'000, 1'000'000'000'000},
    };
    for (const auto& c : cases) {
        ClearingRecord r;
        r.amount = c.amount;
        INFO(c.amount << " bps " << c.rule.bps);
        CHECK(fee_for(c.rule, r) == c.fee);
    }
    CHECK(percentage_fee(INT64_MAX, 10000) == INT64_MAX);
    CHECK_THROWS_AS(fee_for(FeeRule{INT64_MAX, 1}, ClearingRecord{.amount = 10000}), std::overflow_error);
    ChannelConfig ch;
    ch.id = "acq-eu";
    ch.fees = {10, 150};
    ch.fees_per_currency["JPY"] = {0, 100};
    const FeeSchedule fs({ch});
    CHECK(fs.fee_for({.channel = "acq-eu", .currency = "EUR", .amount = 10000}) == 160);
    CHECK(fs.fee_for({.channel = "acq-eu", .currency = "JPY", .amount = 10000}) == 100);
    CHECK(fs.fee_for({.channel = "other", .currency = "EUR", .amount = 10000}) == 0);
}

TEST_CASE("netting per merchant: debit, credit, fees, net before fees; Σ merchant net = batch net") {
    BatchBook book(10'000, 0, "0");
    struct Row {
        const char* merchant;
        PaymentType type;
        int64_t amount, fee;
    };
    const Row rows[] = {{"m-2", PaymentType::sale, 1000, 25},  {"m-1", PaymentType::sale, 500, 18},
                        {"m-2", PaymentType::refund, 300, 0},  {"m-1", PaymentType::capture, 200, 13},
                        {"m-3", PaymentType::refund, 700, 0}};
    int i = 0;
    for (const auto& row : rows) {
        auto r = approved(row.type, row.amount);
        r.payment_id = "p" + std::to_string(++i);
        r.merchant_id = row.merchant;
        auto cr = *clearing_record_for(r);
        cr.fee = row.fee;
        book.add(cr, 1'000'000);
    }
    book.checkpoint();
    auto closed = book.close_due(1'010'000);
    REQUIRE(closed.size() == 1);
    const auto& s = closed[0].summary;
    const std::vector<MerchantLine> expected{
        {"m-1", 2, 700, 0, 31, 700}, {"m-2", 2, 1000, 300, 25, 700}, {"m-3", 1, 0, 700, 0, -700}};
    CHECK(s.merchants == expected);
    CHECK(s.fee_total == 56);
    int64_t sum = 0;
    for (const auto& m : s.merchants) sum += m.net;
    CHECK(sum == s.net);
    CHECK(s.net == 700);
}

namespace {
ClearingFile clearing(const std::string& batch, const std::string& channel,
                      std::vector<std::tuple<const char*, int64_t, const char*>> rows) {
    ClearingFile f;
    f.summary.batch_id = batch;
    f.summary.channel = channel;
    f.summary.currency = "EUR";
    for (const auto& [id, amount, cur] : rows) {
        f.records.push_back({id, amount > 0 ? PaymentType::sale : PaymentType::refund, channel, "m", cur, amount, "", 0, 0});
        f.summary.net += amount;
    }
    f.summary.record_count = static_cast<int64_t>(rows.size());
    return f;
}
}  // namespace

TEST_CASE("reconciliation: each injected break is found, and nothing else") {
    const std::vector<ClearingFile> files{
        clearing("acq-eu.EUR.A", "acq-eu", {{"p1", 100, "EUR"}, {"p2", 200, "EUR"}, {"p3", -50, "EUR"}}),
        clearing("acq-eu.EUR.B", "acq-eu", {{"p4", 400, "EUR"}, {"p5", 500, "EUR"}}),
        clearing("acq-eu.EUR.C", "acq-eu", {{"p6", 600, "EUR"}}),
        clearing("acq-us.USD.A", "acq-us", {{"u1", 1, "USD"}}),  // another channel: ignored
    };
    auto line = [](const char* id, int64_t amount, const char* cur = "EUR") {
        return ChannelReportLine{id, amount > 0 ? PaymentType::sale : PaymentType::refund, amount, cur, "ref"};
    };
    const std::vector<ChannelReportLine> clean{line("p1", 100), line("p2", 200), line("p3", -50),
                                               line("p4", 400), line("p5", 500), line("p6", 600)};
    {
        const auto r = reconcile("acq-eu", files, clean);
        CHECK(r.breaks.empty());
        CHECK(r.matched == 6);
        CHECK(r.turnout_records == 6);
        REQUIRE(r.batches.size() == 3);
        for (const auto& b : r.batches) CHECK(b.settled());
    }
    struct Case {
        const char* name;
        std::vector<ChannelReportLine> report;
        std::vector<ReconBreak> breaks;
        std::vector<std::string> settled;
    };
    const Case cases[] = {
        {"missing at the channel",
         {line("p1", 100), line("p3", -50), line("p4", 400), line("p5", 500), line("p6", 600)},
         {{BreakKind::missing_at_channel, "p2", "acq-eu.EUR.A", 200, std::nullopt, "EUR", ""}},
         {"acq-eu.EUR.B", "acq-eu.EUR.C"}},
        {"missing in Turnout",
         {line("p1", 100), line("p2", 200), line("p3", -50), line("p4", 400), line("p5", 500), line("p6", 600),
          line("x9", 999)},
         {{BreakKind::missing_in_turnout, "x9", "", std::nullopt, 999, "", "EUR"}},
         {"acq-eu.EUR.A", "acq-eu.EUR.B", "acq-eu.EUR.C"}},
        {"amount mismatch",
         {line("p1", 100), line("p2", 200), line("p3", -50), line("p4", 401), line("p5", 500), line("p6", 600)},
         {{BreakKind::amount_mismatch, "p4", "acq-eu.EUR.B", 400, 401, "EUR", "EUR"}},
         {"acq-eu.EUR.A", "acq-eu.EUR.C"}},
        {"currency mismatch counts as an amount mismatch",
         {line("p1", 100), line("p2", 200), line("p3", -50), line("p4", 400), line("p5", 500), line("p6", 600, "USD")},
         {{BreakKind::amount_mismatch, "p6", "acq-eu.EUR.C", 600, 600, "EUR", "USD"}},
         {"acq-eu.EUR.A", "acq-eu.EUR.B"}},
        {"one of each kind at once",
         {line("p1", 100), line("p3", -50), line("p4", 401), line("p5", 500), line("p6", 600), line("x9", 999)},
         {{BreakKind::missing_at_channel, "p2", "acq-eu.EUR.A", 200, std::nullopt, "EUR", ""},
          {BreakKind::missing_in_turnout, "x9", "", std::nullopt, 999, "", "EUR"},
          {BreakKind::amount_mismatch, "p4", "acq-eu.EUR.B", 400, 401, "EUR", "EUR"}},
         {"acq-eu.EUR.C"}},
        {"a payment the channel reports twice",
         {line("p1", 100), line("p2", 200), line("p3", -50), line("p4", 400), line("p5", 500), line("p6", 600),
          line("p6", 600)},
         {{BreakKind::duplicate_at_channel, "p6", "acq-eu.EUR.C", std::nullopt, 600, "", "EUR"}},
         {"acq-eu.EUR.A", "acq-eu.EUR.B"}},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        const auto r = reconcile("acq-eu", files, c.report);
        CHECK(r.breaks == c.breaks);
        std::vector<std::string> settled;
        for (const auto& b : r.batches)
            if (b.settled()) settled.push_back(b.batch_id);
        CHECK(settled == c.settled);
        CHECK(r.matched + static_cast<int64_t>(r.breaks.size()) ==
              std::max(r.turnout_records, r.channel_records) + (r.count(BreakKind::missing_at_channel) &&
                                                                 r.count(BreakKind::missing_in_turnout)));
    }
    // The report file, the metrics and the printed summary name every break.
    const auto r = reconcile("acq-eu", files, cases[4].report);
    const auto json = reconciliation_json(r, 0);
    CHECK(json.find("\"result\":\"breaks\"") != std::string::npos);
    CHECK(json.find("\"missing_at_channel\":1") != std::string::npos);
    const auto metrics = reconciliation_metrics(r);
    CHECK(metrics.find("turnout_reconciliation_breaks_total{channel=\"acq-eu\",kind=\"amount_mismatch\"} 1\n") !=
          std::string::npos);
    CHECK(metrics.find("turnout_reconciliation_matched_total{channel=\"acq-eu\"} 4\n") != std::string::npos);
    CHECK(reconciliation_text(r).find("BREAKS: 3") != std::string::npos);
}

TEST_CASE("channel report CSV round trip") {
    const std::vector<ChannelReportLine> lines{{"p1", PaymentType::sale, 1299, "EUR", "acq-eu-1"},
                                               {"p1:r", PaymentType::refund, -500, "EUR", "acq-eu-2"}};
    std::string why;
    auto back = parse_channel_report(render_channel_report(lines), why);
    REQUIRE(back);
    CHECK(back->size() == 2);
    CHECK((*back)[1].amount == -500);
    CHECK((*back)[1].type == PaymentType::refund);
    CHECK_FALSE(parse_channel_report("payment_id,type,amount_minor,currency,channel_ref\np1,sale,12.5,EUR,r\n", why));
    // Channel text in a report is written like clearing-file text: formula-safe, one line per row.
    const std::vector<ChannelReportLine> odd{{"-p2", PaymentType::sale, 100, "EUR", "=HYPERLINK(\"x\",\"y\"),z"},
                                             {"p3", PaymentType::sale, 200, "EUR", "a\nb"}};
    const auto text = render_channel_report(odd);
    CHECK(text.find("\n'-p2,") != std::string::npos);
    CHECK(text.find("\"'=HYPERLINK(\"\"x\"\",\"\"y\"\"),z\"") != std::string::npos);
    auto odd_back = parse_channel_report(text, why);
    REQUIRE_MESSAGE(odd_back, why);
    REQUIRE(odd_back->size() == 2);
    CHECK((*odd_back)[0].payment_id == "-p2");
    CHECK((*odd_back)[0].channel_ref == odd[0].channel_ref);
    CHECK((*odd_back)[1].channel_ref == "a?b");
}

// ---- Record contents that try to break the clearing files ----------------------------------

namespace {
// Lines of a text (each ends in '\n'); a final piece without '\n' counts as a line too.
std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        out.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    return out;
}

bool formula_start(const std::string& cell) {
    return !cell.empty() && std::string_view("=+-@\t\r").find(cell[0]) != std::string_view::npos;
}

// A batch whose records hold line breaks, formulas and quotes in every text field.
Batch hostile_batch() {
    Batch b;
    b.summary.batch_id = "acq-eu.EUR.20261126T063000Z.p3";
    b.summary.channel = "acq-eu";
    b.summary.currency = "EUR";
    b.summary.window_start_ms = *parse_rfc3339("2026-11-26T06:30:00Z");
    b.summary.window_end_ms = *parse_rfc3339("2026-11-26T06:30:10Z");
    const char* texts[] = {"m-1\nD0000000000000000000000000000000", "=HYPERLINK(\"http://x\",\"y\")",
                           "+1+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3", "ref\r\nT000", "a,b\"c", "'quoted",
                           "\tx", "x\xe2\x80\xa8y", "Caf\xc3\xa9 \xc2\x85 end"};
    int64_t n = 0;
    for (const char* t : texts) {
        ++n;
        b.records.push_back({"-p" + std::to_string(n), PaymentType::sale, "acq-eu", t, "EUR", 100 * n, t, 1795674605123, 1});
        b.summary.record_count += 1;
        b.summary.debit_total += 100 * n;
    }
    b.summary.net = b.summary.debit_total;
    return b;
}
}  // namespace

TEST_CASE("clearing CSV: line breaks never split a record, no cell starts a formula, text reads back") {
    const Batch b = hostile_batch();
    const std::string csv = render_clearing_csv(b);
    const auto lines = lines_of(csv);
    REQUIRE(lines.size() == b.records.size() + 3);  // header, column names, one per record, trailer
    CHECK(csv.find('\r') == std::string::npos);
    for (size_t i = 0; i < lines.size(); ++i) {
        CAPTURE(lines[i]);
        const auto cells = split_csv_line(lines[i]);
        if (i >= 2 && i + 1 < lines.size()) {
            REQUIRE(cells.size() == 10);
            // Text cells are never formulas; amount and fee are plain integers.
            for (size_t c : {0u, 1u, 3u, 4u, 5u, 8u}) CHECK_FALSE(formula_start(cells[c]));
        }
    }
    std::string why;
    auto back = parse_clearing_csv(csv, why);
    REQUIRE_MESSAGE(back, why);
    REQUIRE(back->records.size() == b.records.size());
    for (size_t i = 0; i < b.records.size(); ++i) {
        const auto& in = b.records[i];
        const auto& out = back->records[i];
        CHECK(out.payment_id == in.payment_id);  // "-p1": its leading quote is taken off again
        if (!text::has_control(in.merchant_id)) {
            CHECK(out.merchant_id == in.merchant_id);
            CHECK(out.channel_ref == in.channel_ref);
        } else {
            CHECK(out.merchant_id.find('\n') == std::string::npos);
        }
    }
}

TEST_CASE("clearing CSV cells: table of escapes") {
    struct Case {
        std::string in, cell;
    };
    const Case cases[] = {
        {"acq-eu", "acq-eu"},
        {"=1+1", "'=1+1"},
        {"+41 22", "'+41 22"},
        {"-2+3", "'-2+3"},
        {"@SUM(A1)", "'@SUM(A1)"},
        {"'already", "''already"},
        {"\t=1", "?=1"},  // the tab goes first; what is left starts with '?'
        {"\r=1", "?=1"},
        {"a,b", "\"a,b\""},
        {"a\"b", "\"a\"\"b\""},
        {"=a,b", "\"'=a,b\""},
        {"line\nbreak", "line?break"},
        {"a\r\nb", "a??b"},
        {"x\xe2\x80\xa8y", "x?y"},
        {"x\xc2\x85y", "x?y"},
        {"Caf\xc3\xa9", "Caf\xc3\xa9"},
        {"", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(csv_text_cell(c.in) == c.cell);
        if (!text::has_control(c.in)) CHECK(csv_cell_text(split_csv_line(c.cell)[0]) == c.in);
    }
}

TEST_CASE("fixed-width fields: printable ASCII only, exact width; hostile records keep 256-byte lines") {
    struct Case {
        std::string in;
        size_t width;
        std::string out;
    };
    const Case cases[] = {
        {"abc", 5, "abc  "},
        {"a\nb", 4, "a?b "},
        {"a\r\nb", 4, "a??b"},
        {"Caf\xc3\xa9!", 6, "Caf?! "},
        {"\xe2\x80\xa8x", 3, "?x "},
        {"\xf0\x9f\x92\xb3 card", 6, "? card"},
        {"abcdef", 3, "abc"},
        {"", 2, "  "},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(fixed_width_text(c.in, c.width) == c.out);
    }
    const auto fixed = render_clearing_fixed_width(hostile_batch());
    const auto lines = lines_of(fixed);
    CHECK(lines.size() == hostile_batch().records.size() + 2);
    CHECK(fixed.size() == lines.size() * (kFixedWidthRecord + 1));
    for (const auto& l : lines) {
        CHECK(l.size() == kFixedWidthRecord);
        for (unsigned char c : l) CHECK((c >= 0x20 && c < 0x7f));
    }
}

TEST_CASE("clearing file names: never a '/' or a leading '.', different ids different names") {
    struct Case {
        std::string batch_id, stem;
    };
    const Case cases[] = {
        {"acq-eu.EUR.20261126T063000Z.p3", "acq-eu.EUR.20261126T063000Z.p3"},
        {"a/b.EUR.20261126T063000Z.p0", "a%2Fb.EUR.20261126T063000Z.p0"},
        {"../../etc/x", "%2E.%2F..%2Fetc%2Fx"},
        {".", "%2E"},
        {"a%2Fb", "a%252Fb"},
        {"a b\n", "a%20b%0A"},
        {"", "%"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.batch_id);
        CHECK(clearing_file_stem(c.batch_id) == c.stem);
    }
    const auto long_stem = clearing_file_stem(std::string(300, '/'));
    CHECK(long_stem.size() <= 200);
    CHECK(long_stem.find('/') == std::string::npos);
    CHECK(long_stem != clearing_file_stem(std::string(301, '/')));

    // A batch whose id came from a channel id with '/' and '..' is written inside the folder.
    BatchBook book(10'000, 0, "p0");
    book.add(*clearing_record_for(approved(PaymentType::sale, 100, "EUR", "../../evil/ch")), 1'000'000);
    book.checkpoint();
    auto batches = book.close_due(1'010'000);
    REQUIRE(batches.size() == 1);
    const auto dir = std::filesystem::temp_directory_path() / "turnout-clearing-names";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    CHECK_NOTHROW(write_clearing_files((dir / "out").string(), batches[0], hmac_signer("k3y")));
    CHECK_NOTHROW(write_clearing_files((dir / "out").string(), batches[0], hmac_signer("k3y")));  // closing again
    size_t inside = 0, outside = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_regular_file()) (e.path().parent_path() == dir / "out" ? inside : outside)++;
    CHECK(inside == 6);
    CHECK(outside == 0);
    CHECK(batches[0].summary.file.find('/') == std::string::npos);
    std::filesystem::remove_all(dir);
}

namespace {
struct Collect : kafka::Emitter {
    std::vector<kafka::OutRecord> records;
    void emit(const kafka::OutRecord& r) override { records.push_back(r); }
};

std::string header_of(const kafka::OutRecord& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

std::string result_json(const std::string& id, const std::string& merchant, const std::string& channel,
                        const std::string& ref, int64_t value, int64_t completed_at) {
    PaymentResult r;
    r.payment_id = r.root_id = id;
    r.type = PaymentType::sale;
    r.status = ResultStatus::approved;
    r.reason = {"00", "approved"};
    r.amount = Money{value, "EUR"};
    r.merchant_id = merchant;
    r.channel = channel;
    r.channel_ref = ref;
    r.times.completed_at = completed_at;
    return encode_result(r);
}
}  // namespace

TEST_CASE("settlement stage: forged results go to the DLQ with reason and field, never into a batch or a file") {
    Config cfg;
    auto& t = cfg.kafka.topics;
    t.results = "payments.results", t.dlq = "payments.dlq", t.batches = "settlement.batches";
    t.settlement_log = "settlement.log";
    cfg.settlement.window_seconds = 10;
    cfg.settlement.grace_seconds = 0;
    const auto dir = std::filesystem::temp_directory_path() / "turnout-settlement-forged";
    std::filesystem::remove_all(dir);
    cfg.settlement.output_dir = (dir / "out").string();
    cfg.state_dir = (dir / "state").string();
    SettlementStage stage(cfg, hmac_signer("k3y"));

    const int64_t at = now_ms() - 60'000;  // its window has long closed by the tick below
    struct Input {
        std::string key, value, field;  // field: empty for a good result
    };
    const std::vector<Input> inputs = {
        {"f-neg", result_json("f-neg", "m-1", "acq-eu", "r1", 1, at), "amount"},
        {"f-lf", result_json("f-lf", "m-1\nD000000000000000000000", "acq-eu", "r2", 700, at), "merchant_id"},
        {"f-slash", result_json("f-slash", "m-1", "acq/../../x", "r3", 800, at), "channel"},
        {"good-1", result_json("good-1", "m-1", "acq-eu", "=HYPERLINK(\"http://x\",\"y\")", 900, at), ""},
        {"-good-2", result_json("-good-2", "@m-2", "acq-eu", "+41", 1000, at), ""},
    };
    std::vector<std::string> values;
    for (const auto& in : inputs) values.push_back(in.value);
    // The negative amount is what a forger writes by hand: the encoder never does.
    values[0].replace(values[0].find("\"value\":1,"), 10, "\"value\":-5000,");
    std::vector<kafka::Record> batch;
    for (size_t i = 0; i < inputs.size(); ++i)
        batch.push_back({t.results, 0, static_cast<int64_t>(i), inputs[i].key, values[i], nullptr});
    Collect out;
    CHECK_NOTHROW(stage.process(batch, out));
    std::map<std::string, std::string> dlq_field;  // key → field
    size_t adds = 0;
    for (const auto& r : out.records) {
        if (r.topic == t.dlq) {
            CHECK(header_of(r, "turnout.error.stage") == "settlement");
            CHECK(header_of(r, "turnout.error.reason") == "invalid_result");
            dlq_field[r.key] = header_of(r, "turnout.error.field");
        } else {
            CHECK(r.topic == t.settlement_log);
            ++adds;
        }
    }
    CHECK(adds == 2);
    CHECK(dlq_field.size() == 3);
    for (const auto& in : inputs)
        if (!in.field.empty()) CHECK(dlq_field[in.key] == in.field);
    stage.stores()->commit({});  // as the runner does once the transaction commits
    stage.on_commit();
    Collect closed;
    CHECK_NOTHROW(stage.on_tick(now_ms() + 20'000, closed));
    std::vector<BatchSummary> summaries;
    for (const auto& r : closed.records)
        if (r.topic == t.batches) summaries.push_back(*decode_batch_summary(r.value));
    REQUIRE(summaries.size() == 1);
    CHECK(summaries[0].channel == "acq-eu");
    CHECK(summaries[0].record_count == 2);
    CHECK(summaries[0].debit_total == 1900);
    CHECK(summaries[0].credit_total == 0);
    const auto csv = [&] {
        std::ifstream f(dir / "out" / summaries[0].file, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }();
    const auto lines = lines_of(csv);
    CHECK(lines.size() == 5);  // header, column names, two records, trailer
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
        CAPTURE(lines[i]);
        const auto cells = split_csv_line(lines[i]);
        for (size_t c = 0; c < cells.size(); ++c)
            if (i < 2 || (c != 6 && c != 7)) CHECK_FALSE(formula_start(cells[c]));  // not amount or fee
    }
    std::string why;
    auto back = parse_clearing_csv(csv, why);
    REQUIRE_MESSAGE(back, why);
    CHECK(back->records[0].payment_id == "good-1");
    CHECK(back->records[0].channel_ref == "=HYPERLINK(\"http://x\",\"y\")");
    CHECK(back->records[1].payment_id == "-good-2");
    CHECK(back->records[1].merchant_id == "@m-2");
    std::filesystem::remove_all(dir);
}
