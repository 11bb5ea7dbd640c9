#include "connector.hpp"

#include <cstdio>
#include <cstdlib>

namespace turnout {

ConnectorRegistry& ConnectorRegistry::get() {
    static ConnectorRegistry r;
    return r;
}

void ConnectorRegistry::add(const std::string& kind, std::unique_ptr<ConnectorFactory> factory) {
    if (!factories_.emplace(kind, std::move(factory)).second) {
        std::fprintf(stderr, "connector kind `%s` registered twice\n", kind.c_str());
        std::abort();
    }
}

const ConnectorFactory* ConnectorRegistry::find(const std::string& kind) const {
    auto it = factories_.find(kind);
    return it == factories_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ConnectorRegistry::kinds() const {
    std::vector<std::string> k;
    for (const auto& [name, f] : factories_) k.push_back(name);
    return k;
}

namespace {
const ConnectorFactory& factory_for(const ChannelConfig& ch) {
    const auto* f = ConnectorRegistry::get().find(ch.kind);
    if (!f) {
        std::string known;
        for (const auto& k : ConnectorRegistry::get().kinds()) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError(ch.source + ": channel `" + ch.id + "` has unknown kind `" + ch.kind + "` (known: " + known + ")");
    }
    return *f;
}
}  // namespace

void validate_channels(const Config& cfg) {
    for (const auto& ch : cfg.channels) factory_for(ch).prepare(ch);
}

std::unique_ptr<Connector> make_connector(const ChannelConfig& channel, const ConnectorContext& ctx) {
    return factory_for(channel).prepare(channel)(ctx);
}

}  // namespace turnout
