#pragma once
// Channel simulators: stand-alone processes (`turnout-sim <kind>`) that play a channel's
// host over real sockets, so connectors are tested on the wire. Each simulator kind lives
// in its connector's folder and registers itself with one line, like a connector.
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace turnout {

struct SimulatorArgs {
    const Config& config;          // the switch's config file: the channel's endpoint, layout, keys
    const ChannelConfig& channel;  // the channel this process plays
    std::string listen;            // "host:port" from --listen; empty = the channel's own endpoint
    // --fault NAME=VALUE (repeatable): fault modes, validated by the simulator.
    std::map<std::string, std::string> faults;
    std::string ledger_file;       // --ledger: payments executed, shared with a restarted process
    const std::atomic<bool>& stop;  // set by SIGTERM/SIGINT: stop accepting, finish, return 0
    // --tls-cert/--tls-key: serve TLS with this certificate; --tls-client-ca: and require a
    // client certificate signed by this CA (simulators that support it: iso8583).
    std::string tls_cert, tls_key, tls_client_ca;
};

// Runs until args.stop; returns the process exit status. Throws ConfigError on bad arguments.
using SimulatorMain = std::function<int(const SimulatorArgs&)>;

class SimulatorRegistry {
public:
    static SimulatorRegistry& get();
    // Aborts at start-up on a duplicate kind name.
    void add(const std::string& kind, SimulatorMain main);
    const SimulatorMain* find(const std::string& kind) const;
    std::vector<std::string> kinds() const;

private:
    std::map<std::string, SimulatorMain> mains_;
};

struct SimulatorRegistration {
    SimulatorRegistration(const char* kind, SimulatorMain main) { SimulatorRegistry::get().add(kind, std::move(main)); }
};

}  // namespace turnout

// One line at the bottom of a simulator's .cpp registers it under `kind`
// (`turnout-sim <kind> ...`).
#define TURNOUT_REGISTER_SIMULATOR(kind, name, fn) \
    static const ::turnout::SimulatorRegistration turnout_simulator_registration_##name{kind, fn}
