// turnout dlq list|show|replay: inspect payments.dlq with card data masked, replay fixed requests.
#include <iostream>

#include "app/command.hpp"
#include "dlq/dlq_tool.hpp"
#include "security/card_vault.hpp"

namespace turnout::app {
namespace {

struct DlqOptions {
    dlq::ListOptions list;
    std::string position, from_file;
};

enum class DlqCommand { kList, kShow, kReplay };

int run_dlq(const Context& ctx, const DlqOptions& o, DlqCommand what) {
    const auto cfg = ctx.config();
    const CardVault v(load_key_provider(cfg, kOpenPan, Context::keys_path(cfg)));
    if (what == DlqCommand::kList) return dlq::list(cfg, v, o.list, std::cout);
    const auto pos = dlq::parse_position(o.position);
    if (!pos) throw std::runtime_error("position `" + o.position + "`: expected PARTITION:OFFSET");
    if (what == DlqCommand::kShow) return dlq::show(cfg, v, *pos, std::cout, std::cerr);
    return dlq::replay(cfg, v, *pos, o.from_file, std::cout, std::cerr);
}

}  // namespace

void add_dlq(CLI::App& app, Context& ctx) {
    auto* d = app.add_subcommand("dlq", "inspect payments.dlq (card data masked) and replay fixed requests");
    d->require_subcommand(1);
    auto o = std::make_shared<DlqOptions>();
    auto* list = d->add_subcommand("list", "one line per DLQ record, then a count by reason");
    add_config_option(*list, ctx);
    list->add_option("--reason", o->list.reason, "only records dead-lettered with this reason");
    list->add_option("--stage", o->list.stage, "only records dead-lettered by this stage");
    list->add_option("--limit", o->list.limit, "print at most N records (the counts cover all)");
    list->add_flag("--json", o->list.json, "one JSON object per record");
    auto* show = d->add_subcommand("show", "one DLQ record: headers and the request unsealed, PANs masked");
    add_config_option(*show, ctx);
    show->add_option("position", o->position, "PARTITION:OFFSET")->required();
    auto* replay = d->add_subcommand("replay", "send a DLQ record (or a fixed version) to payments.requests");
    add_config_option(*replay, ctx);
    replay->add_option("position", o->position, "PARTITION:OFFSET")->required();
    replay->add_option("--from-file", o->from_file, "send this fixed request instead of the original bytes");
    run_when_chosen<DlqCommand>(ctx, {{list, DlqCommand::kList}, {show, DlqCommand::kShow}, {replay, DlqCommand::kReplay}},
                    [&ctx, o](DlqCommand what) { return run_dlq(ctx, *o, what); });
}

}  // namespace turnout::app
