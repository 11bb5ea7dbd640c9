#include "app/roles.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <thread>

#include "app/service_notify.hpp"
#include "connector_stage.hpp"
#include "gateway/gateway_server.hpp"
#include "kafka/client.hpp"
#include "kafka/stage_runner.hpp"
#include "metrics/health.hpp"
#include "model/time.hpp"
#include "risk/risk_stage.hpp"
#include "router/router_stage.hpp"
#include "security/seal_counter.hpp"
#include "settlement/settlement_stage.hpp"
#include "state/state_stage.hpp"
#include "state/status_query.hpp"

namespace turnout {

std::vector<RoleSpec> all_roles(const Config& cfg) {
    std::vector<RoleSpec> r{{"router", ""}, {"risk", ""}};
    for (const auto& ch : cfg.channels) r.push_back({"connector", ch.id});
    r.push_back({"settlement", ""});
    r.push_back({"state", ""});
    if (cfg.gateway.enabled) r.push_back({"gateway", ""});
    return r;
}

std::unique_ptr<CardVault> load_role_keys(const Config& cfg, const std::vector<RoleSpec>& roles,
                                          const std::string& instance, const std::string& keys_file_override) {
    unsigned uses = 0;
    for (const auto& r : roles) uses |= key_uses_of_role(cfg, r.role, r.channel);
    auto provider = load_key_provider(cfg, uses, keys_file_override);
    if (!provider) return nullptr;
    CardVault::SealObserver count;
    if (uses & kSealPan) {
        auto counter = std::make_shared<SealCounter>(cfg.security.seal_count_dir, "router-" + instance,
                                                     cfg.security.seal_limit, cfg.security.seal_warn_percent);
        count = [counter](const std::string& key_id) { counter->count(key_id); };
    }
    spdlog::info("keys: provider {}, loaded for{}{}{}{}", provider->kind(), (uses & kSealPan) ? " seal" : "",
                 (uses & kOpenPan) ? " open" : "", (uses & kFingerprint) ? " fingerprint" : "",
                 (uses & kSettlement) ? " settlement-signing" : "");
    return std::make_unique<CardVault>(std::move(provider), std::move(count));
}

int run_roles(const Config& cfg, const CardVault* vault_ptr, const std::vector<RoleSpec>& roles,
              const std::string& instance, const std::atomic<bool>& stop) {
    auto vault = [&]() -> const CardVault& {
        if (!vault_ptr) throw std::invalid_argument("run_roles: a role that uses keys was started without them");
        return *vault_ptr;
    };
    struct Running {
        std::unique_ptr<kafka::StageLogic> logic;
        std::unique_ptr<kafka::StageRunner> runner;
        int rc = 0;
    };
    std::vector<std::unique_ptr<Running>> running;
    // One rule set per process, shared by its router and risk stages, reloaded on SIGHUP
    // or when the config file changes.
    auto rules = std::make_shared<RulesSource>(cfg);
    for (const auto& spec : roles)
        if (spec.role == "router" || spec.role == "risk") {
            rules->watch();
            break;
        }
    for (const auto& spec : roles)
        if (spec.role == "router" || spec.role == "state") {
            require_co_partitioned(cfg.kafka);
            break;
        }
    // Not ready until every role has its health cell (metrics/health.hpp).
    HealthBoard::get().expect(roles.size());
    // The gateway is no Kafka stage: an HTTP server with its own threads, up until `stop`.
    std::unique_ptr<gateway::Gateway> gw;
    for (const auto& spec : roles) {
        if (spec.role == "gateway") {
            gw = std::make_unique<gateway::Gateway>(cfg, gateway::ApiKeys::load(cfg.gateway.api_keys_file), instance);
            continue;
        }
        auto r = std::make_unique<Running>();
        kafka::StageOptions opts;
        if (spec.role == "router") {
            r->logic = std::make_unique<RouterStage>(cfg, vault(), rules, instance);
            opts = router_options(cfg, instance);
        } else if (spec.role == "risk") {
            r->logic = std::make_unique<RiskStage>(cfg, rules, instance);
            opts = risk_options(cfg, instance);
        } else if (spec.role == "connector") {
            const auto* ch = cfg.channel(spec.channel);
            if (!ch) throw ConfigError(cfg.path + ": no channel `" + spec.channel + "` in channels");
            r->logic = std::make_unique<ConnectorStage>(cfg, *ch, instance, vault_ptr);
            opts = connector_options(cfg, spec.channel, instance);
        } else if (spec.role == "settlement") {
            r->logic = std::make_unique<SettlementStage>(
                cfg, [&v = vault()](std::string_view data) { return v.settlement_sign(data); }, instance);
            opts = settlement_options(cfg, instance);
        } else if (spec.role == "state") {
            r->logic = std::make_unique<StateStage>(cfg, true, instance);
            opts = state_options(cfg, instance);
        } else {
            throw std::invalid_argument("unknown role " + spec.role);
        }
        opts.output_topics = kafka::topics_written_by(cfg, spec.role);
        r->runner = std::make_unique<kafka::StageRunner>(cfg.kafka, std::move(opts), *r->logic);
        r->runner->start();  // a listener that cannot bind stops the process here, at once
        running.push_back(std::move(r));
    }
    // A role that fails stops the others, so the process exits non-zero instead of limping on.
    std::atomic<bool> any_failed{false};
    std::atomic<bool> stop_all{false};
    std::atomic<size_t> finished{0};
    std::vector<std::thread> threads;
    for (auto& r : running)
        threads.emplace_back([&, raw = r.get()] {
            raw->rc = raw->runner->run(stop_all);
            if (raw->rc != 0) any_failed = true;
            ++finished;
        });
    ServiceNotifier notifier;
    while (!stop.load() && !any_failed.load()) {
        notifier.tick(now_ms());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    notifier.stopping();
    stop_all = true;
    if (any_failed) {
        // Fail fast: the others get a bounded drain; a client stuck on a broken broker
        // connection must not keep a failed process alive. Kafka aborts what was not
        // committed, and a restart resumes from the committed offsets.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (finished < threads.size() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        int rc = 0;
        for (auto& r : running) rc = rc ? rc : r->rc;
        spdlog::critical("a role failed (exit {}); exiting without waiting for Kafka clients to close", rc ? rc : 1);
        spdlog::shutdown();
        std::_Exit(rc ? rc : 1);
    }
    for (auto& t : threads) t.join();
    gw.reset();
    int rc = 0;
    for (auto& r : running) rc = rc ? rc : r->rc;
    return rc;
}

}  // namespace turnout
