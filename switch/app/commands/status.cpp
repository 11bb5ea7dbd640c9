// turnout status ID: a payment's life cycle, from payments.state or a running state role.
#include <iostream>
#include <optional>

#include "app/command.hpp"
#include "domain/life_cycle.hpp"
#include "state/status_query.hpp"
#include "state/status_server.hpp"

namespace turnout::app {
namespace {

struct StatusOptions {
    std::string id, url;
    bool json = false;
};

int status(const Context& ctx, const StatusOptions& o) {
    const auto cfg = ctx.config();
    std::optional<std::string> value;
    if (!o.url.empty()) {
        const auto colon = o.url.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("--url expects host:port");
        const auto reply = fetch_payment_status(o.url.substr(0, colon), std::stoi(o.url.substr(colon + 1)), o.id);
        if (reply.status == 200) value = reply.body;
        else if (reply.status != 404)
            throw std::runtime_error("state role answered " + std::to_string(reply.status) + ": " + reply.body);
    } else {
        value = read_payment_state(cfg.kafka, o.id);
    }
    if (!value) {
        std::cerr << "turnout: no payment " << o.id << " in " << cfg.kafka.topics.state
                  << (o.url.empty() ? " (for a capture, void or refund give its original's payment_id, "
                                      "or ask a state role with --url)\n"
                                    : "\n");
        return 3;
    }
    const auto lc = decode_life_cycle(*value);
    if (o.json || !lc) std::cout << *value << "\n";
    else std::cout << render_life_cycle(*lc);
    return 0;
}

}  // namespace

void add_status(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("status", "where is payment ID? (its life cycle from payments.state)");
    add_config_option(*s, ctx);
    auto o = std::make_shared<StatusOptions>();
    s->add_option("id", o->id, "payment_id of the sale or authorize (with --url also of a follow-up)")->required();
    s->add_option("--url", o->url, "ask a running state role (host:port) instead of reading payments.state");
    s->add_flag("--json", o->json, "print the payments.state JSON");
    s->callback([&ctx, o] { ctx.run = [&ctx, o] { return status(ctx, *o); }; });
}

}  // namespace turnout::app
