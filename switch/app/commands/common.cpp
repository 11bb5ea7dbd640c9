// The shared parts of the commands: the configuration and the keys file.
#include <cstdlib>

#include "app/command.hpp"
#include "connector.hpp"

namespace turnout::app {

Config Context::config() const {
    auto cfg = load_config(config_path);
    validate_channels(cfg);
    return cfg;
}

std::string Context::keys_path(const Config& cfg) {
    const char* env = std::getenv("TURNOUT_KEYS_FILE");
    return env && *env ? env : cfg.security.keys_file;
}

void add_config_option(CLI::App& sub, Context& ctx) {
    sub.add_option("--config,-c", ctx.config_path, "configuration file")->capture_default_str();
}

}  // namespace turnout::app
