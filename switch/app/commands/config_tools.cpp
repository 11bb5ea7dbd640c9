// turnout check-config and turnout topics: the configuration and the topics it names.
#include <iostream>

#include "app/command.hpp"
#include "kafka/client.hpp"

namespace turnout::app {

void add_check_config(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("check-config", "validate the configuration and exit");
    add_config_option(*s, ctx);
    s->callback([&ctx] {
        ctx.run = [&ctx] {
            const auto cfg = ctx.config();
            std::cout << ctx.config_path << ": OK (" << cfg.channels.size() << " channels, " << cfg.routes.size()
                      << " routes)\n";
            return 0;
        };
    });
}

void add_topics(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("topics", "create the topics the configuration names (if missing)");
    add_config_option(*s, ctx);
    auto json = std::make_shared<bool>(false);
    s->add_flag("--json", *json, "print the topic catalogue as JSON instead of creating anything");
    s->callback([&ctx, json] {
        ctx.run = [&ctx, json] {
            const auto cfg = ctx.config();
            if (*json) {
                std::cout << kafka::topic_catalogue_json(cfg) << "\n";
                return 0;
            }
            kafka::ensure_topics(cfg);
            std::cout << "topics ready on " << cfg.kafka.bootstrap_servers << "\n";
            return 0;
        };
    });
}

}  // namespace turnout::app
