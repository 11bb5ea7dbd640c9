// turnout loadgen: publish N payments, wait for their results, print a summary.
#include <csignal>
#include <fstream>
#include <iostream>

#include "app/command.hpp"
#include "loadgen/loadgen.hpp"

namespace turnout::app {
namespace {

struct LoadgenCli {
    LoadgenOptions run;
    std::string report_path;
    bool no_settlement = false;
};

int loadgen(const Context& ctx, LoadgenCli& o) {
    const auto cfg = ctx.config();
    o.run.wait_settlement = !o.no_settlement;
    // SIGINT does not cut a run short: it ends on its count or on its result timeout.
    std::signal(SIGINT, [](int) {});
    auto report = run_loadgen(cfg, o.run);
    print_report(report, std::cout);
    if (!o.report_path.empty()) std::ofstream(o.report_path) << report_json(report) << "\n";
    return report.ok() ? 0 : 1;
}

}  // namespace

void add_loadgen(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("loadgen", "publish N payments, wait for their results, print a summary");
    add_config_option(*s, ctx);
    auto o = std::make_shared<LoadgenCli>();
    auto& lo = o->run;
    s->add_option("--count,-n", lo.count, "number of requests")->capture_default_str();
    s->add_option("--rate,-r", lo.rate, "requests per second (0 = as fast as possible)")->capture_default_str();
    s->add_option("--seed", lo.seed, "random seed")->capture_default_str();
    s->add_option("--run-id", lo.run_id, "payment_id prefix (default: from the clock)");
    s->add_option("--invalid-share", lo.mix.invalid_share, "share of deliberately invalid requests")->capture_default_str();
    s->add_option("--timeout", lo.result_timeout_s, "seconds without a result before giving up")->capture_default_str();
    s->add_option("--duplicate-share", lo.duplicate_share, "share of valid requests sent again with the same payment_id")
        ->capture_default_str();
    s->add_option("--authorize-share", lo.mix.authorize_share, "share of originals that are authorizations")
        ->capture_default_str();
    s->add_option("--void-share", lo.mix.void_share, "share of approved authorizations then voided")->capture_default_str();
    s->add_option("--split-capture-share", lo.mix.split_capture_share,
                  "share of captured authorizations captured in two or three parts")
        ->capture_default_str();
    s->add_option("--capture-refund-share", lo.mix.capture_refund_share,
                  "share of captured authorizations then partly refunded")
        ->capture_default_str();
    s->add_option("--refund-share", lo.mix.refund_share, "share of approved sales then partly refunded")
        ->capture_default_str();
    s->add_option("--invalid-step-share", lo.mix.invalid_step_share,
                  "share of life cycles ending with a step the router must refuse")
        ->capture_default_str();
    s->add_option("--report-json", o->report_path, "also write the summary as JSON to this file");
    s->add_flag("--no-settlement", o->no_settlement, "do not wait for settlement batches");
    s->callback([&ctx, o] { ctx.run = [&ctx, o] { return loadgen(ctx, *o); }; });
}

}  // namespace turnout::app
