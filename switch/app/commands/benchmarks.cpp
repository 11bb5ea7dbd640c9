// turnout bench-pipe, bench-connector, bench-history: the benchmarks scripts/bench runs.
#include <iostream>

#include "app/command.hpp"
#include "bench/history_writer.hpp"
#include "bench/pipe_bench.hpp"
#include "connector_bench.hpp"

namespace turnout::app {

void add_benchmarks(CLI::App& app, Context& ctx) {
    auto* pipe = app.add_subcommand("bench-pipe", "benchmark: the plain Kafka pipe (copy workers through N hops)");
    add_config_option(*pipe, ctx);
    auto po = std::make_shared<PipeBenchOptions>();
    pipe->add_option("--count,-n", po->count, "records")->capture_default_str();
    pipe->add_option("--hops", po->hops, "copy workers in a row")->capture_default_str();
    pipe->add_option("--bytes", po->record_bytes, "record size")->capture_default_str();
    auto no_txn = std::make_shared<bool>(false);
    pipe->add_flag("--no-transactions", *no_txn, "plain idempotent producers, offsets committed after a flush");
    pipe->callback([&ctx, po, no_txn] {
        ctx.run = [&ctx, po, no_txn] {
            po->transactional = !*no_txn;
            const auto r = run_pipe_bench(ctx.config(), *po);
            std::cout << "{\"hops\":" << po->hops << ",\"transactional\":" << (po->transactional ? "true" : "false")
                      << ",\"records\":" << r.delivered << ",\"seconds\":" << r.seconds
                      << ",\"records_per_s\":" << r.records_per_s << "}\n";
            return r.delivered == po->count ? 0 : 1;
        };
    });

    auto* cbench = app.add_subcommand("bench-connector", "benchmark: one channel's connector against its host, no Kafka");
    add_config_option(*cbench, ctx);
    auto cbo = std::make_shared<ConnectorBenchOptions>();
    cbench->add_option("--channel", cbo->channel, "channel id")->required();
    cbench->add_option("--count,-n", cbo->count, "payments")->capture_default_str();
    cbench->add_option("--inflight", cbo->inflight, "payments in flight (one call)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cbench->add_option("--amount", cbo->amount_minor, "amount of every sale, minor units")->capture_default_str();
    cbench->add_option("--run-id", cbo->run_id, "payment_id prefix (default: from the clock)");
    cbench->add_option("--linger-ms", cbo->linger_ms, "keep the idle connections open this long after the run")
        ->capture_default_str();
    cbench->callback([&ctx, cbo] {
        ctx.run = [&ctx, cbo] {
            const auto r = run_connector_bench(ctx.config(), *cbo);
            std::cout << r.json() << "\n";
            return r.payments == cbo->count ? 0 : 1;
        };
    });

    auto* hbench = app.add_subcommand(
        "bench-history", "benchmark: write a synthetic history of N payments straight into the stores' changelogs");
    add_config_option(*hbench, ctx);
    auto ho = std::make_shared<HistoryOptions>();
    hbench->add_option("--payments,-n", ho->payments, "payments in the history")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    hbench->add_option("--prefix", ho->prefix, "payment_id prefix of the history")->capture_default_str();
    hbench->callback([&ctx, ho] {
        ctx.run = [&ctx, ho] {
            const auto r = write_history(ctx.config(), *ho);
            std::cout << r.json() << "\n";
            return r.failed == 0 && r.records == r.ledger_records + r.state_records ? 0 : 1;
        };
    });
}

}  // namespace turnout::app
