#include "sim/channel_simulator.hpp"

#include <cstdio>
#include <cstdlib>

namespace turnout {

SimulatorRegistry& SimulatorRegistry::get() {
    static SimulatorRegistry registry;
    return registry;
}

void SimulatorRegistry::add(const std::string& kind, SimulatorMain main) {
    if (!mains_.emplace(kind, std::move(main)).second) {
        std::fprintf(stderr, "turnout-sim: simulator kind `%s` registered twice\n", kind.c_str());
        std::abort();
    }
}

const SimulatorMain* SimulatorRegistry::find(const std::string& kind) const {
    auto it = mains_.find(kind);
    return it == mains_.end() ? nullptr : &it->second;
}

std::vector<std::string> SimulatorRegistry::kinds() const {
    std::vector<std::string> out;
    for (const auto& [k, _] : mains_) out.push_back(k);
    return out;
}

}  // namespace turnout
