#pragma once
// Starting roles: each role is one StageRunner on its own thread with its stage's logic.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "security/card_vault.hpp"

namespace turnout {

struct RoleSpec {
    std::string role;     // router | risk | connector | settlement | state | gateway
    std::string channel;  // for connector
};

// Runs the roles until `stop` is set; returns 0 if every role drained cleanly. `vault` holds
// the keys the roles use (load_role_keys); null is refused for a role that needs keys.
int run_roles(const Config& cfg, const CardVault* vault, const std::vector<RoleSpec>& roles, const std::string& instance,
              const std::atomic<bool>& stop);
inline int run_roles(const Config& cfg, const CardVault& vault, const std::vector<RoleSpec>& roles,
                     const std::string& instance, const std::atomic<bool>& stop) {
    return run_roles(cfg, &vault, roles, instance, stop);
}

// The keys `roles` use and nothing more (key_uses_of_role), from security.key_provider, with
// the seal counter of a sealing process (`<seal_count_dir>/router-<instance>.seals`); null
// when no role uses a key (risk, state, gateway). `keys_file_override`: TURNOUT_KEYS_FILE.
std::unique_ptr<CardVault> load_role_keys(const Config& cfg, const std::vector<RoleSpec>& roles,
                                          const std::string& instance, const std::string& keys_file_override = {});

// Every role of the config: router, risk, one connector per channel, settlement, state, and
// the gateway when gateway.enabled.
std::vector<RoleSpec> all_roles(const Config& cfg);

}  // namespace turnout
