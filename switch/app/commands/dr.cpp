// turnout dr-takeover: the DR site takes over from a lost primary (dr/takeover.hpp). Run once,
// after replication has stopped (scripts/dr failover) and before any role starts at DR.
#include <filesystem>
#include <fstream>
#include <memory>
#include <iostream>

#include "app/command.hpp"
#include "app/roles.hpp"
#include "dr/takeover.hpp"
#include "security/card_vault.hpp"

namespace turnout::app {
namespace {

struct TakeoverOptions {
    int window_minutes = 60;
    bool dry_run = false;
    std::string report;
    std::string clearing_from;
};

int dr_takeover(const Context& ctx, const TakeoverOptions& o) {
    const auto cfg = ctx.config();
    // The keys the connectors use (MAC keys of ISO 8583 channels), as a connector role loads them.
    std::vector<RoleSpec> connectors;
    for (const auto& ch : cfg.channels) connectors.push_back({"connector", ch.id});
    const auto keys = load_role_keys(cfg, connectors, "dr-takeover", Context::keys_path(cfg));
    dr::TakeoverOptions opts;
    opts.window_ms = int64_t{o.window_minutes} * 60'000;
    opts.dry_run = o.dry_run;
    std::unique_ptr<CardVault> signing;  // the clearing-file signing key, to check the primary's files
    if (!o.clearing_from.empty()) {
        if (!std::filesystem::is_directory(o.clearing_from))
            throw std::runtime_error("--clearing-from " + o.clearing_from + " is not a folder");
        signing = std::make_unique<CardVault>(load_key_provider(cfg, kSettlement, Context::keys_path(cfg)));
        opts.clearing_from = o.clearing_from;
        opts.sign = [v = signing.get()](std::string_view data) { return v->settlement_sign(data); };
    }
    const auto rep = dr::take_over(cfg, keys.get(), opts);
    std::cout << rep.text();
    if (!o.report.empty()) std::ofstream(o.report) << rep.json() << "\n";
    return 0;
}

}  // namespace

void add_dr_takeover(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("dr-takeover",
                                 "at the DR site, after replication stopped and before the roles start: answer the "
                                 "payments the lost primary left in flight (asking their channels) and set where "
                                 "each stage resumes");
    add_config_option(*s, ctx);
    auto o = std::make_shared<TakeoverOptions>();
    s->add_option("--window-minutes", o->window_minutes, "look at requests this recent")->capture_default_str()
        ->check(CLI::Range(1, 7 * 24 * 60));
    s->add_flag("--dry-run", o->dry_run, "decide and report only: no channel asked, nothing written, no group moved");
    s->add_option("--report", o->report, "write the report as JSON to this file");
    s->add_option("--clearing-from", o->clearing_from,
                  "the primary's delivered clearing files (a batch it closed whose close never reached DR is "
                  "adopted from its file, never closed again)");
    s->callback([&ctx, o] { ctx.run = [&ctx, o] { return dr_takeover(ctx, *o); }; });
}

}  // namespace turnout::app
