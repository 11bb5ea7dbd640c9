// turnout sim-report (a simulator channel's settlement report), turnout reconcile (a channel's
// report against the clearing files) and turnout clearing-check (restored clearing files against
// their signatures and the batches announced). Exit 2 when they cannot run; reconcile and
// clearing-check exit 1 on breaks.
#include <algorithm>
#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/command.hpp"
#include "model/time.hpp"
#include "security/card_vault.hpp"
#include "settlement/clearing_file.hpp"
#include "codec/messages.hpp"
#include "kafka/topic_reader.hpp"
#include "settlement/reconcile.hpp"
#include "settlement/restore_check.hpp"
#include "simulator/ledger.hpp"

namespace turnout::app {
namespace {

struct ReportOptions {
    std::string channel, out;
    std::string report, clearing_dir, metrics_file;  // reconcile (clearing_dir: clearing-check too)
    bool batches = false;                            // clearing-check
};

int sim_report(const Context& ctx, const ReportOptions& o) {
    const auto cfg = ctx.config();
    const auto* ch = cfg.channel(o.channel);
    if (!ch) throw ConfigError(ctx.config_path + ": no channel `" + o.channel + "` in channels");
    const auto ledger = ch->settings["ledger_file"];
    if (ch->kind != "simulator" || !ledger)
        throw ConfigError(ch->source + ": channel `" + o.channel + "` is not a simulator channel with a ledger_file");
    size_t old_lines = 0;
    const auto lines = channel_report_from_ledger(ledger.as<std::string>(), old_lines);
    write_file_atomically(o.out, render_channel_report(lines));
    std::cout << o.out << ": " << lines.size() << " settled executions of channel " << o.channel << "\n";
    if (old_lines) std::cerr << "turnout: " << old_lines << " ledger lines without an amount left out\n";
    return 0;
}

int reconcile_report(const Context& ctx, const ReportOptions& o) {
    const auto cfg = ctx.config();
    const CardVault v(load_key_provider(cfg, kSettlement, Context::keys_path(cfg)));
    std::ifstream in(o.report, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + o.report);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string why;
    auto report = parse_channel_report(ss.str(), why);
    if (!report) throw std::runtime_error(o.report + ": " + why);
    const auto files = load_clearing_files(o.clearing_dir.empty() ? cfg.settlement.output_dir : o.clearing_dir,
                                           o.channel, [&v](std::string_view data) { return v.settlement_sign(data); });
    const auto result = reconcile(o.channel, files, *report);
    write_file_atomically(o.out, reconciliation_json(result, now_ms()));
    write_file_atomically(o.metrics_file.empty() ? o.out + ".prom" : o.metrics_file, reconciliation_metrics(result));
    std::cout << reconciliation_text(result);
    return result.breaks.empty() ? 0 : 1;
}

// Every clearing CSV under `dir` (its subfolders too: one per site), each checked against its
// digest and signature, then against the batches settlement.batches announced (--batches).
int clearing_check(const Context& ctx, const ReportOptions& o) {
    const auto cfg = ctx.config();
    const CardVault v(load_key_provider(cfg, kSettlement, Context::keys_path(cfg)));
    const ClearingSigner sign = [&v](std::string_view data) { return v.settlement_sign(data); };
    const std::string dir = o.clearing_dir.empty() ? cfg.settlement.output_dir : o.clearing_dir;
    if (!std::filesystem::is_directory(dir)) throw std::runtime_error(dir + " is not a folder");
    const auto files = read_clearing_files(dir, sign);
    std::vector<BatchSummary> batches;
    if (o.batches) {
        kafka::TopicReader reader(cfg.kafka, cfg.kafka.name_prefix + "turnout.clearing-check");
        const auto& topic = cfg.kafka.topics.batches;
        std::map<int32_t, std::pair<int64_t, int64_t>> ranges;
        for (int32_t p : reader.partitions(topic)) ranges[p] = reader.watermarks(topic, p);
        reader.read_ranges(topic, ranges, [&](const kafka::Record& r) {
            if (auto b = decode_batch_summary(r.value)) batches.push_back(std::move(*b));
            return true;
        });
    }
    const auto r = check_restore(files, batches);
    for (const auto& p : r.problems) std::cout << "  " << p << "\n";
    std::cout << "clearing-check: " << r.files << " clearing files, " << r.bad << " failing their digest or signature";
    if (r.unfinished) std::cout << " (" << r.unfinished << " unfinished: no .sig, the site stopped while writing them)";
    if (o.batches)
        std::cout << "; " << r.batches << " batches in " << cfg.kafka.topics.batches << ", " << r.missing
                  << " without their file, " << r.differing << " with other totals";
    else
        std::cout << "; " << r.differing << " batches whose files differ";
    std::cout << "\n";
    return r.ok() ? 0 : 1;
}

// A runtime error means the tool could not run: exit 2, never 1 (which means breaks).
int exit_2_on_error(int (*body)(const Context&, const ReportOptions&), const Context& ctx, const ReportOptions& o) {
    try {
        return body(ctx, o);
    } catch (const ConfigError&) {
        throw;
    } catch (const std::runtime_error& e) {
        std::cerr << "turnout: " << e.what() << "\n";
        return 2;
    }
}

}  // namespace

void add_sim_report(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("sim-report", "write a simulator channel's settlement report from its ledger");
    add_config_option(*s, ctx);
    auto o = std::make_shared<ReportOptions>();
    s->add_option("--channel", o->channel, "channel id (a simulator channel with ledger_file)")->required();
    s->add_option("--out", o->out, "report file (CSV)")->required();
    s->callback([&ctx, o] { ctx.run = [&ctx, o] { return exit_2_on_error(sim_report, ctx, *o); }; });
}

void add_reconcile(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("reconcile", "match a channel's settlement report against the clearing files");
    add_config_option(*s, ctx);
    auto o = std::make_shared<ReportOptions>();
    s->add_option("--channel", o->channel, "channel id")->required();
    s->add_option("--report", o->report, "the channel's settlement report (CSV)")->required();
    s->add_option("--clearing-dir", o->clearing_dir, "clearing files (default: settlement.output_dir)");
    s->add_option("--out", o->out, "reconciliation report (JSON)")->required();
    s->add_option("--metrics-file", o->metrics_file, "metrics in Prometheus text format (default: <out>.prom)");
    s->callback([&ctx, o] { ctx.run = [&ctx, o] { return exit_2_on_error(reconcile_report, ctx, *o); }; });
}

void add_clearing_check(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("clearing-check",
                                 "restore check: clearing files (a backup, both sites) against their digests and "
                                 "signatures, and against the batches settlement.batches announced");
    add_config_option(*s, ctx);
    auto o = std::make_shared<ReportOptions>();
    s->add_option("--dir", o->clearing_dir, "folder of clearing files, searched with its subfolders (default: settlement.output_dir)");
    s->add_flag("--batches", o->batches, "also check every batch of settlement.batches has an intact file with its totals");
    s->callback([&ctx, o] { ctx.run = [&ctx, o] { return exit_2_on_error(clearing_check, ctx, *o); }; });
}

}  // namespace turnout::app
