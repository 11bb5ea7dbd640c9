// turnout-sim <kind> --config FILE --channel ID [--listen HOST:PORT] [--fault NAME=VALUE]...
//             [--ledger FILE]
// Plays the host of one channel of the config, as a separate process.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "sim/channel_simulator.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }
}  // namespace


int main(int argc, char** argv) {
    using namespace turnout;
    std::string kinds;
    for (const auto& k : SimulatorRegistry::get().kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
    CLI::App app{"turnout-sim: a channel host simulator for Turnout (kinds: " + kinds + ")"};
    std::string kind, config_path = "config/turnout.yaml", channel_id, listen, ledger, tls_cert, tls_key, tls_ca;
    std::vector<std::string> faults;
    app.add_option("kind", kind, "simulator kind")->required();
    app.add_option("--config", config_path, "Turnout config file");
    app.add_option("--channel", channel_id, "the channel id this process plays")->required();
    app.add_option("--listen", listen, "HOST:PORT to listen on (default: the channel's endpoint)");
    app.add_option("--fault", faults, "fault mode NAME=VALUE (repeatable)");
    app.add_option("--ledger", ledger, "ledger file of executed payments");
    app.add_option("--tls-cert", tls_cert, "serve TLS with this certificate (PEM chain; iso8583)");
    app.add_option("--tls-key", tls_key, "the private key of --tls-cert");
    app.add_option("--tls-client-ca", tls_ca, "require a client certificate signed by this CA (mutual TLS)");
    CLI11_PARSE(app, argc, argv);

    const SimulatorMain* sim = SimulatorRegistry::get().find(kind);
    if (!sim) {
        std::fprintf(stderr, "turnout-sim: unknown kind `%s` (known: %s)\n", kind.c_str(), kinds.c_str());
        return 2;
    }
    try {
        const Config cfg = load_config(config_path);
        const ChannelConfig* channel = cfg.channel(channel_id);
        if (!channel) {
            std::fprintf(stderr, "turnout-sim: %s has no channel `%s`\n", config_path.c_str(), channel_id.c_str());
            return 2;
        }
        std::map<std::string, std::string> fault_map;
        for (const auto& f : faults) {
            const auto eq = f.find('=');
            if (eq == std::string::npos || eq == 0) {
                std::fprintf(stderr, "turnout-sim: --fault needs NAME=VALUE, got `%s`\n", f.c_str());
                return 2;
            }
            fault_map[f.substr(0, eq)] = f.substr(eq + 1);
        }
        std::signal(SIGTERM, on_signal);
        std::signal(SIGINT, on_signal);
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l turnout-sim " + kind + " " + channel_id + ": %v", spdlog::pattern_time_type::utc);
        return (*sim)(SimulatorArgs{cfg, *channel, listen, fault_map, ledger, g_stop, tls_cert, tls_key, tls_ca});
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "turnout-sim: %s\n", e.what());
        return 2;
    }
}
