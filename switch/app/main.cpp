// turnout: command line. Parses arguments and starts the chosen roles or tools.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <termios.h>
#include <unistd.h>

#include "app/roles.hpp"
#include "config/config.hpp"
#include "domain/rules_source.hpp"
#include "connector.hpp"
#include "dlq/dlq_tool.hpp"
#include "gateway/api_keys.hpp"
#include "gateway/openapi_bundle.hpp"
#include "kafka/client.hpp"
#include "bench/history_writer.hpp"
#include "bench/pipe_bench.hpp"
#include "loadgen/loadgen.hpp"
#include "metrics/build_info.hpp"
#include "metrics/log.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"
#include "security/card_vault.hpp"
#include "security/pkcs11.hpp"
#include "settlement/reconcile.hpp"
#include "simulator/ledger.hpp"
#include "connector_bench.hpp"
#include "domain/life_cycle.hpp"
#include "state/status_query.hpp"
#include "state/status_server.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

turnout::Config load_checked(const std::string& path) {
    auto cfg = turnout::load_config(path);
    turnout::validate_channels(cfg);
    return cfg;
}

std::string keys_path(const turnout::Config& cfg) {
    const char* env = std::getenv("TURNOUT_KEYS_FILE");
    return env && *env ? env : cfg.security.keys_file;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Turnout: a payment transaction switch on Apache Kafka"};
    app.set_version_flag("--version", "turnout " + std::string(turnout::build_version()));
    app.require_subcommand(1);
    std::string config_path = "config/turnout.yaml";
    std::string instance = "0";
    std::string channel;
    std::string log_level = "info";
    int metrics_port = -1;
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
    std::string log_format = "text";
    app.add_option("--log-format", log_format, "text or json (one JSON object per line)")->capture_default_str();

    auto add_role = [&](const char* name, const char* help) {
        auto* s = app.add_subcommand(name, help);
        s->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
        s->add_option("--instance", instance, "instance id, stable across restarts (names the transactional id)")
            ->capture_default_str();
        s->add_option("--metrics-port", metrics_port, "override metrics.port (0 = no metrics endpoint)");
        return s;
    };
    auto* router = add_role("router", "validate, refuse duplicates, protect card data and route requests");
    auto* risk = add_role("risk", "score routed payments and forward or decline them");
    auto* connector = add_role("connector", "carry payments to one channel");
    connector->add_option("--channel", channel, "channel id")->required();
    auto* settlement = add_role("settlement", "batch cleared payments and write clearing files");
    auto* state = add_role("state", "keep each payment's life cycle in payments.state and serve GET /payments/{id}");
    auto* gateway = add_role("gateway", "HTTP payments gateway: POST /v1/payments, GET /v1/payments/{id}");
    auto* all = add_role("all", "every role in one process (the gateway too when gateway.enabled)");
    auto* gateway_key = app.add_subcommand("gateway-key", "make a new gateway API key and its gateway.api_keys_file line");
    std::string key_merchant;
    gateway_key->add_option("--merchant", key_merchant, "merchant id the key acts for")->required();
    auto* status = app.add_subcommand("status", "where is payment ID? (its life cycle from payments.state)");
    status->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    std::string status_id, status_url;
    bool status_json = false;
    status->add_option("id", status_id, "payment_id of the sale or authorize (with --url also of a follow-up)")->required();
    status->add_option("--url", status_url, "ask a running state role (host:port) instead of reading payments.state");
    status->add_flag("--json", status_json, "print the payments.state JSON");
    auto* dlq = app.add_subcommand("dlq", "inspect payments.dlq (card data masked) and replay fixed requests");
    dlq->require_subcommand(1);
    turnout::dlq::ListOptions dlq_list_opts;
    std::string dlq_pos, dlq_from_file;
    auto* dlq_list = dlq->add_subcommand("list", "one line per DLQ record, then a count by reason");
    dlq_list->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    dlq_list->add_option("--reason", dlq_list_opts.reason, "only records dead-lettered with this reason");
    dlq_list->add_option("--stage", dlq_list_opts.stage, "only records dead-lettered by this stage");
    dlq_list->add_option("--limit", dlq_list_opts.limit, "print at most N records (the counts cover all)");
    dlq_list->add_flag("--json", dlq_list_opts.json, "one JSON object per record");
    auto* dlq_show = dlq->add_subcommand("show", "one DLQ record: headers and the request unsealed, PANs masked");
    dlq_show->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    dlq_show->add_option("position", dlq_pos, "PARTITION:OFFSET")->required();
    auto* dlq_replay = dlq->add_subcommand("replay", "send a DLQ record (or a fixed version) to payments.requests");
    dlq_replay->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    dlq_replay->add_option("position", dlq_pos, "PARTITION:OFFSET")->required();
    dlq_replay->add_option("--from-file", dlq_from_file, "send this fixed request instead of the original bytes");
    auto* keys = app.add_subcommand("keys", "the card-data and signing keys (security.key_provider)");
    keys->require_subcommand(1);
    bool rotate_kek = false;
    auto* keys_init = keys->add_subcommand("init", "pkcs11: a key-encryption key in the token and the first data keys");
    auto* keys_rotate = keys->add_subcommand("rotate", "pkcs11: a new PAN key for new seals (--kek: a new KEK)");
    keys_rotate->add_flag("--kek", rotate_kek, "a new key-encryption key; every data key re-wrapped under it");
    auto* keys_list = keys->add_subcommand("list", "the keys, which is active, seals per key against the limit");
    turnout::KeyImport key_import;
    auto* keys_import = keys->add_subcommand(
        "import", "pkcs11: a host MAC key or zone PIN key from its custodians' clear components (hex lines on stdin)");
    keys_import->add_option("--id", key_import.id, "the key's id, as a channel's mac_key names it")->required();
    keys_import->add_option("--purpose", key_import.purpose, "mac (a host MAC key) | pin (a zone PIN key)")
        ->capture_default_str();
    keys_import->add_option("--algorithm", key_import.algorithm, "mac: retail-des3 | aes-cmac; pin: des3 | aes")->required();
    keys_import->add_flag("--acquiring", key_import.acquiring, "pin: the acquiring zone's key, under which requests carry PIN blocks");
    keys_import->add_option("--kcv", key_import.expect_kcv,
                            "the key check value on the bank's form (6 hex digits): refuse a key that differs");
    keys_import->add_option("--components", key_import.components, "how many components are XORed into the key")
        ->capture_default_str();
    for (auto* k : {keys_init, keys_rotate, keys_list, keys_import})
        k->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    auto* check = app.add_subcommand("check-config", "validate the configuration and exit");
    check->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    auto* topics = app.add_subcommand("topics", "create the topics the configuration names (if missing)");
    topics->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    bool topics_json = false;
    topics->add_flag("--json", topics_json, "print the topic catalogue as JSON instead of creating anything");
    auto* openapi = app.add_subcommand("openapi", "print the gateway's OpenAPI document with the message schemas inlined");
    std::string openapi_doc = "docs/openapi.yaml", openapi_schemas = "schemas";
    openapi->add_option("--doc", openapi_doc, "the OpenAPI document")->capture_default_str();
    openapi->add_option("--schemas", openapi_schemas, "the directory of the message schemas")->capture_default_str();

    auto* sim_report = app.add_subcommand("sim-report", "write a simulator channel's settlement report from its ledger");
    sim_report->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    std::string report_channel, sim_report_out;
    sim_report->add_option("--channel", report_channel, "channel id (a simulator channel with ledger_file)")->required();
    sim_report->add_option("--out", sim_report_out, "report file (CSV)")->required();

    auto* reconcile = app.add_subcommand("reconcile", "match a channel's settlement report against the clearing files");
    reconcile->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    reconcile->add_option("--channel", report_channel, "channel id")->required();
    std::string channel_report, recon_out, recon_metrics, clearing_dir;
    reconcile->add_option("--report", channel_report, "the channel's settlement report (CSV)")->required();
    reconcile->add_option("--clearing-dir", clearing_dir, "clearing files (default: settlement.output_dir)");
    reconcile->add_option("--out", recon_out, "reconciliation report (JSON)")->required();
    reconcile->add_option("--metrics-file", recon_metrics, "metrics in Prometheus text format (default: <out>.prom)");

    auto* loadgen = app.add_subcommand("loadgen", "publish N payments, wait for their results, print a summary");
    loadgen->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    turnout::LoadgenOptions lo;
    loadgen->add_option("--count,-n", lo.count, "number of requests")->capture_default_str();
    loadgen->add_option("--rate,-r", lo.rate, "requests per second (0 = as fast as possible)")->capture_default_str();
    loadgen->add_option("--seed", lo.seed, "random seed")->capture_default_str();
    loadgen->add_option("--run-id", lo.run_id, "payment_id prefix (default: from the clock)");
    loadgen->add_option("--invalid-share", lo.mix.invalid_share, "share of deliberately invalid requests")
        ->capture_default_str();
    loadgen->add_option("--timeout", lo.result_timeout_s, "seconds without a result before giving up")
        ->capture_default_str();
    loadgen->add_option("--duplicate-share", lo.duplicate_share,
                        "share of valid requests sent again with the same payment_id")
        ->capture_default_str();
    loadgen->add_option("--authorize-share", lo.mix.authorize_share, "share of originals that are authorizations")
        ->capture_default_str();
    loadgen->add_option("--void-share", lo.mix.void_share, "share of approved authorizations then voided")
        ->capture_default_str();
    loadgen->add_option("--split-capture-share", lo.mix.split_capture_share,
                        "share of captured authorizations captured in two or three parts")
        ->capture_default_str();
    loadgen->add_option("--capture-refund-share", lo.mix.capture_refund_share,
                        "share of captured authorizations then partly refunded")
        ->capture_default_str();
    loadgen->add_option("--refund-share", lo.mix.refund_share, "share of approved sales then partly refunded")
        ->capture_default_str();
    loadgen->add_option("--invalid-step-share", lo.mix.invalid_step_share,
                        "share of life cycles ending with a step the router must refuse")
        ->capture_default_str();
    std::string report_path;
    loadgen->add_option("--report-json", report_path, "also write the summary as JSON to this file");
    bool no_settlement = false;
    loadgen->add_flag("--no-settlement", no_settlement, "do not wait for settlement batches");

    auto* pipe = app.add_subcommand("bench-pipe", "benchmark: the plain Kafka pipe (copy workers through N hops)");
    pipe->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    turnout::PipeBenchOptions po;
    pipe->add_option("--count,-n", po.count, "records")->capture_default_str();
    pipe->add_option("--hops", po.hops, "copy workers in a row")->capture_default_str();
    pipe->add_option("--bytes", po.record_bytes, "record size")->capture_default_str();
    bool no_txn = false;
    pipe->add_flag("--no-transactions", no_txn, "plain idempotent producers, offsets committed after a flush");

    auto* cbench = app.add_subcommand("bench-connector", "benchmark: one channel's connector against its host, no Kafka");
    cbench->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    turnout::ConnectorBenchOptions cbo;
    cbench->add_option("--channel", cbo.channel, "channel id")->required();
    cbench->add_option("--count,-n", cbo.count, "payments")->capture_default_str();
    cbench->add_option("--inflight", cbo.inflight, "payments in flight (one call)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cbench->add_option("--amount", cbo.amount_minor, "amount of every sale, minor units")->capture_default_str();
    cbench->add_option("--run-id", cbo.run_id, "payment_id prefix (default: from the clock)");
    cbench->add_option("--linger-ms", cbo.linger_ms, "keep the idle connections open this long after the run")
        ->capture_default_str();

    auto* hbench = app.add_subcommand(
        "bench-history", "benchmark: write a synthetic history of N payments straight into the stores' changelogs");
    hbench->add_option("--config,-c", config_path, "configuration file")->capture_default_str();
    turnout::HistoryOptions ho;
    hbench->add_option("--payments,-n", ho.payments, "payments in the history")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    hbench->add_option("--prefix", ho.prefix, "payment_id prefix of the history")->capture_default_str();

    CLI11_PARSE(app, argc, argv);
    try {
        // Every JSON log line and turnout_build_info name the build, the role and the instance.
        std::string role_name = app.get_subcommands().front()->get_name();
        if (*connector) role_name += "." + channel;
        turnout::set_process_identity(role_name, instance);
        turnout::setup_logging(log_level, log_format);
    } catch (const std::exception& e) {
        std::cerr << "turnout: " << e.what() << "\n";
        return 2;
    }

    if (*gateway_key) {
        if (key_merchant.empty() || key_merchant.size() > 64 ||
            key_merchant.find_first_of(" \t\r\n#") != std::string::npos) {
            std::cerr << "turnout: --merchant must be 1-64 bytes without spaces or #\n";
            return 2;
        }
        const auto k = turnout::gateway::make_api_key(key_merchant);
        std::cout << "key:  " << k.key << "\n"
                  << "line: " << k.line << "\n"
                  << "Give the key to the merchant once (it is not stored); add the line to gateway.api_keys_file.\n";
        return 0;
    }
    if (*openapi) {
        try {
            std::cout << turnout::gateway::bundle_openapi(openapi_doc, openapi_schemas);
            return 0;
        } catch (const std::exception& e) {
            std::cerr << "turnout: " << e.what() << "\n";
            return 1;
        }
    }

    try {
        auto cfg = load_checked(config_path);
        if (*check) {
            std::cout << config_path << ": OK (" << cfg.channels.size() << " channels, " << cfg.routes.size()
                      << " routes)\n";
            return 0;
        }
        if (*keys) {
            if (*keys_list) return turnout::keys_list(cfg.security, keys_path(cfg), std::cout);
            if (cfg.security.key_provider != "pkcs11")
                throw turnout::ConfigError("`turnout keys " +
                                           std::string(*keys_init ? "init" : *keys_import ? "import" : "rotate") +
                                           "` manages PKCS#11 keys; security.key_provider is `file` (edit " +
                                           keys_path(cfg) + " instead)");
            if (*keys_import) {
                // On a terminal the components are not echoed.
                termios saved{};
                const bool tty = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
                if (tty) {
                    termios quiet = saved;
                    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
                    ::tcsetattr(0, TCSANOW, &quiet);
                    std::cerr << "enter " << key_import.components
                              << " components, one hex line each (each custodian enters their own; not echoed)\n";
                }
                struct Restore {
                    bool tty;
                    termios saved;
                    ~Restore() {
                        if (tty) ::tcsetattr(0, TCSANOW, &saved);
                    }
                } restore{tty, saved};
                return turnout::keys_import(cfg.security, key_import, std::cin, std::cout);
            }
            return *keys_init ? turnout::keys_init(cfg.security, std::cout)
                              : turnout::keys_rotate(cfg.security, rotate_kek, std::cout);
        }
        if (*topics) {
            if (topics_json) {
                std::cout << turnout::kafka::topic_catalogue_json(cfg) << "\n";
                return 0;
            }
            turnout::kafka::ensure_topics(cfg);
            std::cout << "topics ready on " << cfg.kafka.bootstrap_servers << "\n";
            return 0;
        }
        if (*pipe) {
            po.transactional = !no_txn;
            const auto r = turnout::run_pipe_bench(cfg, po);
            std::cout << "{\"hops\":" << po.hops << ",\"transactional\":" << (po.transactional ? "true" : "false")
                      << ",\"records\":" << r.delivered << ",\"seconds\":" << r.seconds
                      << ",\"records_per_s\":" << r.records_per_s << "}\n";
            return r.delivered == po.count ? 0 : 1;
        }
        if (*cbench) {
            const auto r = turnout::run_connector_bench(cfg, cbo);
            std::cout << r.json() << "\n";
            return r.payments == cbo.count ? 0 : 1;
        }
        if (*hbench) {
            const auto r = turnout::write_history(cfg, ho);
            std::cout << r.json() << "\n";
            return r.failed == 0 && r.records == r.ledger_records + r.state_records ? 0 : 1;
        }
        if (*sim_report) {
            const auto* ch = cfg.channel(report_channel);
            if (!ch) throw turnout::ConfigError(config_path + ": no channel `" + report_channel + "` in channels");
            const auto ledger = ch->settings["ledger_file"];
            if (ch->kind != "simulator" || !ledger)
                throw turnout::ConfigError(ch->source + ": channel `" + report_channel +
                                           "` is not a simulator channel with a ledger_file");
            size_t old_lines = 0;
            const auto lines = turnout::channel_report_from_ledger(ledger.as<std::string>(), old_lines);
            turnout::write_file_atomically(sim_report_out, turnout::render_channel_report(lines));
            std::cout << sim_report_out << ": " << lines.size() << " settled executions of channel " << report_channel
                      << "\n";
            if (old_lines) std::cerr << "turnout: " << old_lines << " ledger lines without an amount left out\n";
            return 0;
        }
        if (*reconcile) {
            const turnout::CardVault v(turnout::load_key_provider(cfg, turnout::kSettlement, keys_path(cfg)));
            std::ifstream in(channel_report, std::ios::binary);
            if (!in) throw std::runtime_error("cannot read " + channel_report);
            std::stringstream ss;
            ss << in.rdbuf();
            std::string why;
            auto report = turnout::parse_channel_report(ss.str(), why);
            if (!report) throw std::runtime_error(channel_report + ": " + why);
            const auto files = turnout::load_clearing_files(
                clearing_dir.empty() ? cfg.settlement.output_dir : clearing_dir, report_channel,
                [&v](std::string_view data) { return v.settlement_sign(data); });
            const auto result = turnout::reconcile(report_channel, files, *report);
            turnout::write_file_atomically(recon_out, turnout::reconciliation_json(result, turnout::now_ms()));
            turnout::write_file_atomically(recon_metrics.empty() ? recon_out + ".prom" : recon_metrics,
                                           turnout::reconciliation_metrics(result));
            std::cout << turnout::reconciliation_text(result);
            return result.breaks.empty() ? 0 : 1;
        }
        if (*status) {
            std::optional<std::string> value;
            if (!status_url.empty()) {
                const auto colon = status_url.rfind(':');
                if (colon == std::string::npos) throw std::runtime_error("--url expects host:port");
                const auto reply = turnout::fetch_payment_status(status_url.substr(0, colon),
                                                                 std::stoi(status_url.substr(colon + 1)), status_id);
                if (reply.status == 200) value = reply.body;
                else if (reply.status != 404) throw std::runtime_error("state role answered " + std::to_string(reply.status) + ": " + reply.body);
            } else {
                value = turnout::read_payment_state(cfg.kafka, status_id);
            }
            if (!value) {
                std::cerr << "turnout: no payment " << status_id << " in " << cfg.kafka.topics.state
                          << (status_url.empty() ? " (for a capture, void or refund give its original's payment_id, "
                                                   "or ask a state role with --url)\n"
                                                 : "\n");
                return 3;
            }
            const auto lc = turnout::decode_life_cycle(*value);
            if (status_json || !lc) std::cout << *value << "\n";
            else std::cout << turnout::render_life_cycle(*lc);
            return 0;
        }
        if (*dlq) {
            const turnout::CardVault v(turnout::load_key_provider(cfg, turnout::kOpenPan, keys_path(cfg)));
            if (*dlq_list) return turnout::dlq::list(cfg, v, dlq_list_opts, std::cout);
            const auto pos = turnout::dlq::parse_position(dlq_pos);
            if (!pos) throw std::runtime_error("position `" + dlq_pos + "`: expected PARTITION:OFFSET");
            if (*dlq_show) return turnout::dlq::show(cfg, v, *pos, std::cout, std::cerr);
            return turnout::dlq::replay(cfg, v, *pos, dlq_from_file, std::cout, std::cerr);
        }
        if (*loadgen) {
            lo.wait_settlement = !no_settlement;
            std::signal(SIGINT, on_signal);
            auto report = turnout::run_loadgen(cfg, lo);
            turnout::print_report(report, std::cout);
            if (!report_path.empty()) std::ofstream(report_path) << turnout::report_json(report) << "\n";
            return report.ok() ? 0 : 1;
        }

        std::vector<turnout::RoleSpec> roles;
        if (*router) roles = {{"router", ""}};
        if (*risk) roles = {{"risk", ""}};
        if (*connector) roles = {{"connector", channel}};
        if (*settlement) roles = {{"settlement", ""}};
        if (*state) roles = {{"state", ""}};
        if (*gateway) roles = {{"gateway", ""}};
        if (*all) roles = turnout::all_roles(cfg);
        // Only the keys these roles use: none for risk, state and the gateway.
        const auto vault = turnout::load_role_keys(cfg, roles, instance, keys_path(cfg));

        std::signal(SIGTERM, on_signal);
        std::signal(SIGINT, on_signal);
        std::signal(SIGHUP, [](int) { turnout::request_rules_reload(); });
        if (metrics_port >= 0) cfg.metrics.port = metrics_port;
        const int port = cfg.metrics.port;
        turnout::Metrics::get().serve(cfg.metrics);
        spdlog::info("turnout starting {} role(s), instance {}, kafka {}, metrics :{}", roles.size(), instance,
                     cfg.kafka.bootstrap_servers, port);
        const int rc = turnout::run_roles(cfg, vault.get(), roles, instance, g_stop);
        spdlog::info("turnout stopped (exit {})", rc);
        // Everything that matters is committed to Kafka or fsynced by now; skip static
        // destructors so library teardown order can never turn a clean stop into a crash.
        spdlog::shutdown();
        std::fflush(nullptr);
        std::_Exit(rc);
    } catch (const turnout::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 2;
    } catch (const std::runtime_error& e) {
        std::cerr << "turnout: " << e.what() << "\n";
        return *reconcile || *sim_report ? 2 : 1;  // reconcile: 1 means breaks, 2 means it could not run
    } catch (const std::exception& e) {
        std::cerr << "turnout: " << e.what() << "\n";
        return 1;
    }
}
