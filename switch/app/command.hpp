#pragma once
// The command line as a table: each command adds its subcommand(s) to the CLI and, when
// chosen, leaves the function that runs it in the Context (app/commands/<command>.cpp).
#include <CLI/CLI.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include "config/config.hpp"

namespace turnout::app {

struct Context {
    std::string config_path = "config/turnout.yaml";
    std::string instance = "0";  // roles: names the transactional id
    int metrics_port = -1;       // roles: overrides metrics.port when >= 0
    std::string process_name;    // names the process in logs and turnout_build_info (default: the command)
    std::function<int()> run;    // set by the chosen command's callback; its exit code

    // The configuration of --config, with its channels checked.
    Config config() const;
    // TURNOUT_KEYS_FILE, else security.keys_file.
    static std::string keys_path(const Config& cfg);
};

// `--config,-c` on a subcommand, bound to ctx.config_path.
void add_config_option(CLI::App& sub, Context& ctx);

// Each subcommand of `subs`, when chosen, runs `run(what)` (its exit code).
template <class What, class Run>
void run_when_chosen(Context& ctx, std::initializer_list<std::pair<CLI::App*, What>> subs, Run run) {
    for (const auto& [sub, what] : subs)
        sub->callback([&ctx, run, what = what] { ctx.run = [run, what] { return run(what); }; });
}

using AddCommand = void (*)(CLI::App& app, Context& ctx);

void add_roles(CLI::App& app, Context& ctx);           // router, risk, connector, settlement, state, gateway, all
void add_gateway_key(CLI::App& app, Context& ctx);     // gateway-key
void add_openapi(CLI::App& app, Context& ctx);         // openapi
void add_check_config(CLI::App& app, Context& ctx);    // check-config
void add_topics(CLI::App& app, Context& ctx);          // topics
void add_status(CLI::App& app, Context& ctx);          // status
void add_dlq(CLI::App& app, Context& ctx);             // dlq list|show|replay
void add_keys(CLI::App& app, Context& ctx);            // keys init|rotate|list|import
void add_sim_report(CLI::App& app, Context& ctx);      // sim-report
void add_reconcile(CLI::App& app, Context& ctx);       // reconcile
void add_clearing_check(CLI::App& app, Context& ctx);  // clearing-check
void add_loadgen(CLI::App& app, Context& ctx);         // loadgen
void add_benchmarks(CLI::App& app, Context& ctx);      // bench-pipe, bench-connector, bench-history
void add_dr_takeover(CLI::App& app, Context& ctx);     // dr-takeover

}  // namespace turnout::app
