// Settlement across a crash: the whole switch runs as a child process (`turnout all`) and is
// killed with SIGKILL in the middle of its cut-off windows, then started again. Afterwards
// the money invariant of docs/design.md, "Messages" holds to the minor unit, every clearing record sits in
// exactly one clearing file, and each channel's settlement report reconciles without a break;
// breaks injected into a report are each found by `turnout reconcile`, and nothing else.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "codec/messages.hpp"
#include "harness.hpp"
#include "loadgen/loadgen.hpp"
#include "settlement/batch_book.hpp"
#include "domain/fees.hpp"
#include "settlement/reconcile.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

const std::string kTurnout = TURNOUT_BINARY;

// `turnout all` as a child process; killed with SIGKILL if still running when destroyed.
class SwitchProcess {
public:
    SwitchProcess(const fs::path& config, const fs::path& log) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::execl(kTurnout.c_str(), "turnout", "--log-level", "warn", "all", "--config", config.c_str(), "--instance",
                    "0", "--metrics-port", "0", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~SwitchProcess() {
        if (pid_ > 0) kill_hard();
    }
    void kill_hard() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    int stop() {  // SIGTERM drains; the exit status
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    pid_t pid_ = -1;
};

int run(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

TEST_CASE("settlement after SIGKILL mid-window: Σ net = Σ results, one batch per record, reconciled") {
    const std::string run_id = "sc" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run_id;
    fs::create_directories(dir);
    std::string yaml = isolated_yaml(run_id, dir);
    // acq-eu on its own cut-off rule; fees on every channel come from the shipped config.
    replace_once(yaml, "  log_retention_hours: 168\n",
                 "  log_retention_hours: 168\n  cutoffs:\n    - channel: acq-eu\n      interval_seconds: 7\n");
    const fs::path config_file = dir / "turnout.yaml";
    std::ofstream(config_file) << yaml;
    const Config cfg = isolated_config(run_id, dir, yaml);
    kafka::ensure_topics(cfg);
    const auto& t = cfg.kafka.topics;

    auto first = std::make_unique<SwitchProcess>(config_file, dir / "switch-1.log");
    LoadgenOptions lo;
    lo.count = 8000;
    lo.rate = 1000;
    lo.seed = 11;
    lo.run_id = run_id;
    lo.progress = false;
    lo.wait_settlement = false;
    lo.result_timeout_s = 120;
    lo.mix.invalid_share = 0;
    LoadgenReport report;
    std::thread load([&] { report = run_loadgen(cfg, lo); });

    // Kill the switch while payments are in flight and its batches are open with committed
    // records (adds on settlement.log), then restart it with the same instance id (its
    // transactional ids fence the dead process's open transactions).
    size_t adds_before_kill = 0;
    for (const int64_t until = now_ms() + 60000; now_ms() < until && adds_before_kill < 300;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        adds_before_kill = 0;
        for (const auto& r : read_all(cfg, {t.settlement_log}))
            adds_before_kill += r.value.find("\"op\":\"add\"") != std::string::npos;
    }
    first->kill_hard();
    std::cout << "settlement crash test: switch killed with SIGKILL with " << adds_before_kill
              << " committed batch assignments" << std::endl;
    CHECK(adds_before_kill >= 300);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    SwitchProcess second(config_file, dir / "switch-2.log");
    load.join();
    print_report(report, std::cout);
    CHECK(report.missing == 0);
    CHECK(report.doubled == 0);
    CHECK(report.received == report.expected_results);
    CHECK(report.steps_unexpected == 0);  // life-cycle rules unchanged by the crash

    // Wait until every window has closed: Σ net of the closed batches = Σ approved results.
    std::map<std::string, int64_t> expected_net, settled_net;
    std::map<std::string, int64_t> expected_fees;  // per channel
    std::map<std::string, int64_t> settled_fees;
    std::set<std::string> clearing_ids;
    std::vector<BatchSummary> batches;
    const FeeSchedule fees(cfg.channels);
    const int64_t deadline = now_ms() + 90000;
    while (now_ms() < deadline) {
        expected_net.clear(), settled_net.clear(), expected_fees.clear(), settled_fees.clear();
        clearing_ids.clear(), batches.clear();
        for (const auto& r : read_all(cfg, {t.results, t.batches})) {
            if (r.topic == t.batches) {
                auto b = decode_batch_summary(r.value);
                REQUIRE(b);
                batches.push_back(*b);
                settled_net[b->currency] += b->net;
                settled_fees[b->channel] += b->fee_total;
                continue;
            }
            auto res = decode_result(r.value);
            REQUIRE(res);
            if (auto cr = clearing_record_for(*res)) {
                expected_net[cr->currency] += cr->amount;
                expected_fees[cr->channel] += fees.fee_for(*cr);
                clearing_ids.insert(cr->payment_id);
            }
        }
        if (settled_net == expected_net) break;
        std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    CHECK(second.stop() == 0);
    for (const auto& r : read_all(cfg, {t.batches}))  // one summary for the operator's eye
        if (r.value.find("\"channel\":\"acq-eu\",\"currency\":\"EUR\"") != std::string::npos) {
            std::cout << "sample batch summary: " << r.value << std::endl;
            break;
        }
    CHECK(!expected_net.empty());
    CHECK(settled_net == expected_net);  // the money invariant, per currency, to the minor unit
    CHECK(settled_fees == expected_fees);

    // Each batch published once; each clearing record in exactly one clearing file.
    std::set<std::string> batch_ids;
    std::map<std::string, int> files_per_record;
    for (const auto& b : batches) {
        CHECK(b.status == "closed");
        CHECK_MESSAGE(batch_ids.insert(b.batch_id).second, "batch published twice: " << b.batch_id);
        std::string why;
        auto f = parse_clearing_csv(read_file(dir / "settlement" / b.file), why);
        REQUIRE_MESSAGE(f, why);
        CHECK(sha256_hex(read_file(dir / "settlement" / b.file)) == b.sha256);
        CHECK(sha256_hex(read_file(dir / "settlement" / b.fixed_width_file)) == b.fixed_width_sha256);
        for (const auto& rec : f->records) ++files_per_record[rec.payment_id];
        int64_t merchant_net = 0;
        for (const auto& m : b.merchants) merchant_net += m.net;
        CHECK(merchant_net == b.net);
    }
    CHECK(files_per_record.size() == clearing_ids.size());
    int doubles = 0;
    for (const auto& [id, n] : files_per_record) doubles += n != 1 || !clearing_ids.count(id);
    CHECK(doubles == 0);
    CHECK(ledger_double_executions(dir) == 0);

    // Every channel's settlement report reconciles with Turnout's clearing files.
    const std::string env = "TURNOUT_KEYS_FILE=" + kSource + "/config/dev-keys.yaml ";
    for (const auto& ch : cfg.channels) {
        const auto report_file = dir / ("report-" + ch.id + ".csv");
        const auto recon_file = dir / ("reconciliation-" + ch.id + ".json");
        REQUIRE(run(env + kTurnout + " sim-report --config " + config_file.string() + " --channel " + ch.id + " --out " +
                    report_file.string()) == 0);
        CHECK_MESSAGE(run(env + kTurnout + " reconcile --config " + config_file.string() + " --channel " + ch.id +
                          " --report " + report_file.string() + " --out " + recon_file.string()) == 0,
                      ch.id);
    }

    // Inject one break of each kind into acq-eu's report: reconcile finds exactly those.
    std::string why;
    auto lines = *parse_channel_report(read_file(dir / "report-acq-eu.csv"), why);
    REQUIRE(lines.size() > 3);
    const auto dropped = lines[0].payment_id;             // missing at the channel
    lines.erase(lines.begin());
    lines[0].amount += 1;                                  // amount mismatch
    const auto changed = lines[0].payment_id;
    lines.push_back({"ghost-" + run_id, PaymentType::sale, 4242, "EUR", "acq-eu-ghost"});  // missing in Turnout
    std::ofstream(dir / "report-acq-eu-breaks.csv") << render_channel_report(lines);
    const auto breaks_file = dir / "reconciliation-acq-eu-breaks.json";
    CHECK(run(env + kTurnout + " reconcile --config " + config_file.string() + " --channel acq-eu --report " +
              (dir / "report-acq-eu-breaks.csv").string() + " --out " + breaks_file.string()) == 1);
    const auto json = read_file(breaks_file);
    CHECK(json.find("\"missing_at_channel\":1,") != std::string::npos);
    CHECK(json.find("\"missing_in_turnout\":1,") != std::string::npos);
    CHECK(json.find("\"amount_mismatch\":1,") != std::string::npos);
    CHECK(json.find("\"duplicate_at_channel\":0,") != std::string::npos);
    CHECK(json.find("\"duplicate_in_turnout\":0}") != std::string::npos);
    CHECK(json.find("\"payment_id\":\"" + dropped + "\"") != std::string::npos);
    CHECK(json.find("\"payment_id\":\"" + changed + "\"") != std::string::npos);
    CHECK(json.find("\"payment_id\":\"ghost-" + run_id + "\"") != std::string::npos);
    const auto prom = read_file(breaks_file.string() + ".prom");
    CHECK(prom.find("turnout_reconciliation_breaks_total{channel=\"acq-eu\",kind=\"amount_mismatch\"} 1") !=
          std::string::npos);
}
