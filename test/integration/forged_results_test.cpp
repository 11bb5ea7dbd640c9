// Forged results written straight onto payments.results, on the real broker, with the switch
// running as a child process (`turnout all`): a negative approved sale, a line feed in
// merchant_id, a channel id with '/', a completed_at far in the future, and formula text in
// channel_ref and merchant_id. Settlement and state dead-letter the forged records with their
// reason and field and keep committing the good results after them; no clearing file line is
// split, no cell starts a formula, and no file lands outside the settlement folder.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <thread>

#include "codec/messages.hpp"
#include "harness.hpp"
#include "settlement/clearing_file.hpp"

using namespace turnout;
using namespace turnout::it;
namespace fs = std::filesystem;

namespace {

pid_t spawn_switch(const fs::path& config, const fs::path& log) {
    return spawn_turnout({"--log-level", "warn", "all", "--config", config.string(), "--instance", "0",
                          "--metrics-port", "0"},
                         log);
}

std::string approved_sale(const std::string& id, const std::string& merchant, const std::string& channel,
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
    r.times.received_at = completed_at - 20;
    r.times.completed_at = completed_at;
    return encode_result(r);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

}  // namespace

TEST_CASE("forged results on payments.results: dead-lettered with reasons, books and files stay clean") {
    const std::string run = "fr" + std::to_string(now_ms());
    const fs::path dir = fs::path(kSource) / "var" / "test" / run;
    fs::create_directories(dir);
    const std::string yaml = isolated_yaml(run, dir);
    const fs::path config = dir / "turnout.yaml";
    std::ofstream(config) << yaml;
    const Config cfg = isolated_config(run, dir, yaml);
    kafka::ensure_topics(cfg);
    const auto& t = cfg.kafka.topics;
    const fs::path out_dir = dir / "settlement";

    const std::string bootstrap = cfg.kafka.bootstrap_servers;
    ::setenv("TURNOUT_BOOTSTRAP", bootstrap.c_str(), 1);
    pid_t sw = spawn_switch(config, dir / "switch.log");
    struct Reap {
        pid_t& pid;
        ~Reap() {
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        }
    } reap{sw};

    const int64_t now = now_ms();
    struct Forged {
        std::string id, value, field;
    };
    std::vector<Forged> forged = {
        {run + "-neg", approved_sale(run + "-neg", "m-1", "acq-eu", "r-neg", 1, now), "amount"},
        {run + "-lf", approved_sale(run + "-lf", "m-1\nD" + std::string(40, '0'), "acq-eu", "r-lf", 700, now), "merchant_id"},
        {run + "-slash", approved_sale(run + "-slash", "m-1", "acq/../../" + run, "r-slash", 800, now), "channel"},
        {run + "-future", approved_sale(run + "-future", "m-1", "acq-eu", "r-f", 900, *parse_rfc3339("2099-01-01T00:00:00Z")),
         "timestamps"},
    };
    // A negative amount is what a forger writes by hand: the encoder would never.
    forged[0].value.replace(forged[0].value.find("\"value\":1,"), 10, "\"value\":-5000,");
    // Valid results whose text is formula-like: they settle, escaped in the CSV.
    const std::string formula_id = "-" + run + "-formula";
    const std::string formula_ref = "=HYPERLINK(\"http://evil.example\",\"open\")";

    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}});
    for (const auto& f : forged) REQUIRE(producer.produce({t.results, f.id, f.value, {}}));
    REQUIRE(producer.produce({t.results, formula_id,
                                            approved_sale(formula_id, "@m-formula", "acq-eu", formula_ref, 1234, now), {}}));
    // Good results after the forged ones: the stages must go on committing.
    std::set<std::string> good;
    for (int i = 0; i < 20; ++i) {
        const std::string id = run + "-good-" + std::to_string(i);
        good.insert(id);
        REQUIRE(producer.produce({t.results, id, approved_sale(id, "m-" + std::to_string(i), "acq-eu",
                                                                                  "acq-eu-" + std::to_string(i), 100 + i, now),
                                                {}}));
    }
    producer.flush(30000);
    REQUIRE(producer.queued() == 0);

    // Wait until every good result is in a closed batch and in payments.state, and every
    // forged one is in the DLQ from both stages.
    std::map<std::string, std::map<std::string, std::string>> dlq_field;  // payment id → stage → field
    std::map<std::string, std::string> dlq_reason;
    std::set<std::string> settled, stated;
    std::vector<BatchSummary> batches;
    bool alive = true;
    const int64_t deadline = now_ms() + 90'000;
    while (now_ms() < deadline) {
        dlq_field.clear(), settled.clear(), stated.clear(), batches.clear();
        for (const auto& r : read_all(cfg, {t.dlq, t.state, t.batches})) {
            if (r.topic == t.dlq) {
                dlq_field[r.key][r.header("turnout.error.stage")] = r.header("turnout.error.field");
                dlq_reason[r.key] = r.header("turnout.error.reason");
            } else if (r.topic == t.state) {
                stated.insert(r.key);
            } else if (auto b = decode_batch_summary(r.value)) {
                batches.push_back(*b);
                std::string why;
                if (auto f = parse_clearing_csv(read_file(out_dir / b->file), why))
                    for (const auto& rec : f->records) settled.insert(rec.payment_id);
            }
        }
        alive = ::waitpid(sw, nullptr, WNOHANG) == 0;
        size_t good_settled = 0, good_stated = 0, forged_dead = 0;
        for (const auto& id : good) good_settled += settled.count(id), good_stated += stated.count(id);
        for (const auto& f : forged) forged_dead += dlq_field.count(f.id) && dlq_field[f.id].size() == 2;
        if (!alive || (good_settled == good.size() && good_stated == good.size() && settled.count(formula_id) &&
                       stated.count(formula_id) && forged_dead == forged.size()))
            break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    CHECK(alive);  // no role failed on a forged record
    if (alive) {
        ::kill(sw, SIGTERM);
        int status = 0;
        ::waitpid(sw, &status, 0);
        sw = -1;
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }

    // Good results: settled and in payments.state; the formula one too.
    for (const auto& id : good) {
        CAPTURE(id);
        CHECK(settled.count(id) == 1);
        CHECK(stated.count(id) == 1);
    }
    CHECK(settled.count(formula_id) == 1);
    CHECK(stated.count(formula_id) == 1);
    // Forged results: in the DLQ from settlement and from state, with reason and field, and
    // neither settled nor in payments.state.
    for (const auto& f : forged) {
        CAPTURE(f.id);
        CHECK(dlq_reason[f.id] == "invalid_result");
        CHECK(dlq_field[f.id]["settlement"] == f.field);
        CHECK(dlq_field[f.id]["state"] == f.field);
        CHECK(settled.count(f.id) == 0);
        CHECK(stated.count(f.id) == 0);
    }
    // The books: only the good results' money, in acq-eu batches.
    int64_t debit = 0, credit = 0;
    for (const auto& b : batches) {
        CHECK(b.channel == "acq-eu");
        debit += b.debit_total, credit += b.credit_total;
    }
    int64_t expected = 1234;
    for (int i = 0; i < 20; ++i) expected += 100 + i;
    CHECK(debit == expected);
    CHECK(credit == 0);

    // The files: nothing outside the folder, no split line, no formula cell.
    size_t csv_files = 0, fixed_files = 0;
    bool formula_seen = false;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const auto name = e.path().filename().string();
        if (name.find(".csv") == std::string::npos && name.find(".txt") == std::string::npos) continue;
        if (e.path().parent_path() != out_dir) {
            if (name.rfind("ledger-", 0) != 0) FAIL_CHECK("a clearing file outside the folder: " << e.path());
            continue;
        }
        const std::string body = read_file(e.path());
        if (e.path().extension() == ".csv") {
            ++csv_files;
            const auto lines = lines_of(body);
            std::string why;
            auto parsed = parse_clearing_csv(body, why);
            REQUIRE_MESSAGE(parsed, why);
            CHECK(lines.size() == parsed->records.size() + 3);
            for (size_t i = 0; i + 1 < lines.size(); ++i) {
                CAPTURE(lines[i]);
                const auto cells = split_csv_line(lines[i]);
                if (i >= 2) CHECK(cells.size() == 10);
                for (size_t c = 0; c < cells.size(); ++c) {
                    if (i >= 2 && (c == 6 || c == 7)) continue;  // amount and fee: integers
                    CHECK((cells[c].empty() || std::string_view("=+-@\t\r").find(cells[c][0]) == std::string_view::npos));
                }
            }
            for (const auto& rec : parsed->records)
                if (rec.payment_id == formula_id) {
                    formula_seen = true;
                    CHECK(rec.channel_ref == formula_ref);  // read back as it was, once unescaped
                    CHECK(rec.merchant_id == "@m-formula");
                }
        } else if (e.path().extension() == ".txt") {
            ++fixed_files;
            const auto lines = lines_of(body);
            CHECK(body.size() == lines.size() * (kFixedWidthRecord + 1));
            for (const auto& l : lines) {
                CHECK(l.size() == kFixedWidthRecord);
                CHECK(std::all_of(l.begin(), l.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
            }
        }
    }
    CHECK(csv_files >= 1);
    CHECK(fixed_files == csv_files);
    CHECK(formula_seen);
    std::cout << "forged results test: " << forged.size() << " forged results dead-lettered by settlement and state, "
              << good.size() + 1 << " good results settled in " << csv_files << " clearing files" << std::endl;
}
