// turnout router|risk|connector|settlement|state|gateway|all: run roles until SIGTERM.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "app/command.hpp"
#include "app/roles.hpp"
#include "domain/rules_source.hpp"
#include "metrics/metrics.hpp"

namespace turnout::app {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

int run(Context& ctx, const std::vector<RoleSpec>* fixed) {
    auto cfg = ctx.config();
    const auto roles = fixed ? *fixed : all_roles(cfg);
    // Only the keys these roles use: none for risk, state and the gateway.
    const auto vault = load_role_keys(cfg, roles, ctx.instance, Context::keys_path(cfg));

    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGHUP, [](int) { request_rules_reload(); });
    if (ctx.metrics_port >= 0) cfg.metrics.port = ctx.metrics_port;
    Metrics::get().serve(cfg.metrics);
    spdlog::info("turnout starting {} role(s), instance {}, kafka {}, metrics :{}", roles.size(), ctx.instance,
                 cfg.kafka.bootstrap_servers, cfg.metrics.port);
    const int rc = run_roles(cfg, vault.get(), roles, ctx.instance, g_stop);
    spdlog::info("turnout stopped (exit {})", rc);
    // Everything that matters is committed to Kafka or fsynced by now; skip static
    // destructors so library teardown order can never turn a clean stop into a crash.
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(rc);
}

CLI::App* add_role(CLI::App& app, Context& ctx, const char* name, const char* help) {
    auto* s = app.add_subcommand(name, help);
    add_config_option(*s, ctx);
    s->add_option("--instance", ctx.instance, "instance id, stable across restarts (names the transactional id)")
        ->capture_default_str();
    s->add_option("--metrics-port", ctx.metrics_port, "override metrics.port (0 = no metrics endpoint)");
    return s;
}

}  // namespace

void add_roles(CLI::App& app, Context& ctx) {
    struct Role {
        const char* name;
        const char* help;
    };
    static constexpr Role kRoles[] = {
        {"router", "validate, refuse duplicates, protect card data and route requests"},
        {"risk", "score routed payments and forward or decline them"},
        {"connector", "carry payments to one channel"},
        {"settlement", "batch cleared payments and write clearing files"},
        {"state", "keep each payment's life cycle in payments.state and serve GET /payments/{id}"},
        {"gateway", "HTTP payments gateway: POST /v1/payments, GET /v1/payments/{id}"},
    };
    auto channel = std::make_shared<std::string>();
    for (const auto& r : kRoles) {
        auto* s = add_role(app, ctx, r.name, r.help);
        const std::string role = r.name;
        if (role == "connector") s->add_option("--channel", *channel, "channel id")->required();
        s->callback([&ctx, role, channel] {
            const std::string ch = role == "connector" ? *channel : "";
            if (!ch.empty()) ctx.process_name = role + "." + ch;
            ctx.run = [&ctx, spec = std::vector<RoleSpec>{{role, ch}}] { return run(ctx, &spec); };
        });
    }
    add_role(app, ctx, "all", "every role in one process (the gateway too when gateway.enabled)")->callback([&ctx] {
        ctx.run = [&ctx] { return run(ctx, nullptr); };
    });
}

}  // namespace turnout::app
