// The settlement stage driven without a broker: results in; batch assignments on the
// settlement log, and at the window's end the batch summary and its clearing files; abort,
// and an instance that takes over open batches from the changelog.
#include <doctest/doctest.h>

#include <filesystem>

#include "codec/messages.hpp"
#include "settlement/batch_log.hpp"
#include "settlement/settlement_stage.hpp"
#include "support/pipeline.hpp"

using namespace turnout;
using namespace turnout::testing;

namespace {
size_t files_in(const std::filesystem::path& dir) {
    if (!std::filesystem::exists(dir)) return 0;
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) n += e.is_regular_file();
    return n;
}
}  // namespace

TEST_CASE_FIXTURE(StageWorld, "settlement stage: approved payments batched, closed after the window, taken over from the changelog") {
    const auto sign = [&v = vault](std::string_view data) { return v.settlement_sign(data); };
    // c-2 is declined (..51): nothing to clear.
    const auto results = results_of(cfg, vault, {sale("s-1", 1000), sale("s-2", 1051), sale("s-3", 2500)}, 2);
    REQUIRE(results.size() == 3);

    SettlementStage settlement(cfg, sign, "0");
    StageDriver driver(settlement, {t.settlement_log});
    driver.assign({{t.results, 2}});
    const std::map<std::string, std::string> eur{{"channel", "sim-a"}, {"currency", "EUR"}};
    const double records_before = metric_value("turnout_settlement_records_total", eur);
    const double debit_before =
        metric_value("turnout_settlement_amount_minor_total", {{"channel", "sim-a"}, {"currency", "EUR"}, {"direction", "debit"}});
    auto out = driver.feed(as_input(results, 2));
    CHECK(metric_value("turnout_settlement_records_total", eur) == records_before + 2);
    CHECK(metric_value("turnout_settlement_amount_minor_total",
                       {{"channel", "sim-a"}, {"currency", "EUR"}, {"direction", "debit"}}) == debit_before + 3500);
    size_t adds = 0;
    for (const auto& o : out) {
        CHECK(o.topic == t.settlement_log);
        CHECK(o.partition == 2);
        ++adds;
    }
    CHECK(adds == 2);
    // Aborted and delivered again: each payment is in its batch once.
    driver.abort();
    driver.feed(as_input(results, 2));
    driver.commit();

    // The instance is lost before the window closes; another one rebuilds the open batch.
    SettlementStage next(cfg, sign, "1");
    StageDriver next_driver(next, {t.settlement_log});
    next_driver.assign({{t.results, 2}}, &driver);
    const double closed_before = metric_value("turnout_settlement_batches_total", {{"channel", "sim-a"}, {"currency", "EUR"}});
    out = next_driver.tick(now_ms() + 10'000);
    const auto summary = decode_batch_summary(first_to(out, t.batches).value);
    REQUIRE(summary.has_value());
    CHECK(summary->record_count == 2);
    CHECK(summary->net == 3500);
    CHECK(summary->currency == "EUR");
    CHECK(summary->channel == "sim-a");
    CHECK(first_to(out, t.batches).key == summary->batch_id);
    CHECK(files_in(cfg.settlement.output_dir) >= 1);
    CHECK(metric_value("turnout_settlement_batches_total", {{"channel", "sim-a"}, {"currency", "EUR"}}) == closed_before + 1);
    next_driver.commit();
    // Closed is closed: later ticks emit nothing more.
    CHECK(next_driver.tick(now_ms() + 20'000).empty());
}

TEST_CASE_FIXTURE(StageWorld, "settlement stage: a payment in a batch the DR takeover adopted is not settled again") {
    const auto sign = [&v = vault](std::string_view data) { return v.settlement_sign(data); };
    const auto results = results_of(cfg, vault, {sale("s-1", 1000), sale("s-3", 2500)}, 2);
    REQUIRE(results.size() == 2);
    // The takeover's settlement.log entry: s-1 is in a batch closed at the lost primary.
    SettlementStage before(cfg, sign, "0");
    StageDriver takeover(before, {t.settlement_log});
    takeover.assign({{t.results, 2}});
    auto rec = clearing_record_for(*decode_result(results[0].value));
    REQUIRE(rec);
    takeover.emit({t.settlement_log, settled_key("s-1"),
                   encode_batch_log({BatchLogEntry::Op::settled, rec->channel, rec->currency, 0, *rec}), {}, 2});
    takeover.commit();

    SettlementStage settlement(cfg, sign, "1");
    StageDriver driver(settlement, {t.settlement_log});
    driver.assign({{t.results, 2}}, &takeover);
    driver.feed(as_input(results, 2));  // both results read again at DR
    driver.commit();
    const auto out = driver.tick(now_ms() + 10'000);
    const auto summary = decode_batch_summary(first_to(out, t.batches).value);
    REQUIRE(summary.has_value());
    CHECK(summary->record_count == 1);
    CHECK(summary->net == 2500);
}

TEST_CASE_FIXTURE(StageWorld, "settlement stage: a forged result goes to the DLQ, not into a batch") {
    SettlementStage settlement(cfg, [&v = vault](std::string_view d) { return v.settlement_sign(d); }, "0");
    StageDriver driver(settlement, {t.settlement_log});
    driver.assign({{t.results, 0}});
    const auto results = results_of(cfg, vault, {sale("f-1", 1000)}, 0);
    REQUIRE(results.size() == 1);
    // The record's key names another payment than its value.
    auto out = driver.feed({{t.results, 0, "other-id", results[0].value, {}}, {t.results, 0, "x", "{]", {}}});
    size_t dlq = 0;
    for (const auto& o : out) {
        CHECK(o.topic == t.dlq);
        CHECK(header_of(o, "turnout.error.stage") == "settlement");
        ++dlq;
    }
    CHECK(dlq == 2);
    driver.commit();
    CHECK(driver.tick(now_ms() + 10'000).empty());
}
