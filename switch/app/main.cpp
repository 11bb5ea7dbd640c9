// turnout: the command line. Each command's options and body live in app/commands/; this file
// is the table of commands and the handling common to all of them.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/command.hpp"
#include "metrics/build_info.hpp"
#include "metrics/log.hpp"

namespace {

using turnout::app::AddCommand;

// The subcommands in the order `turnout --help` lists them.
constexpr AddCommand kCommands[] = {
    turnout::app::add_roles,        // router, risk, connector, settlement, state, gateway, all
    turnout::app::add_gateway_key,  // gateway-key
    turnout::app::add_status,       // status
    turnout::app::add_dlq,          // dlq list|show|replay
    turnout::app::add_keys,         // keys init|rotate|list|import
    turnout::app::add_check_config, // check-config
    turnout::app::add_topics,       // topics [--json]
    turnout::app::add_openapi,      // openapi
    turnout::app::add_sim_report,   // sim-report
    turnout::app::add_reconcile,    // reconcile
    turnout::app::add_clearing_check,  // clearing-check
    turnout::app::add_loadgen,      // loadgen
    turnout::app::add_benchmarks,   // bench-pipe, bench-connector, bench-history
    turnout::app::add_dr_takeover,  // dr-takeover
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Turnout: a payment transaction switch on Apache Kafka"};
    app.set_version_flag("--version", "turnout " + std::string(turnout::build_version()));
    app.require_subcommand(1);
    std::string log_level = "info", log_format = "text";
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
    app.add_option("--log-format", log_format, "text or json (one JSON object per line)")->capture_default_str();
    turnout::app::Context ctx;
    for (const auto add : kCommands) add(app, ctx);
    CLI11_PARSE(app, argc, argv);

    try {
        // Every JSON log line and turnout_build_info name the build, the process and the instance.
        if (ctx.process_name.empty()) ctx.process_name = app.get_subcommands().front()->get_name();
        turnout::set_process_identity(ctx.process_name, ctx.instance);
        turnout::setup_logging(log_level, log_format);
    } catch (const std::exception& e) {  // a bad --log-level or --log-format: usage
        std::cerr << "turnout: " << e.what() << "\n";
        return 2;
    }
    try {
        return ctx.run();
    } catch (const turnout::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "turnout: " << e.what() << "\n";
        return 1;
    }
}
