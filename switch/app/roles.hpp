#pragma once
// Starting roles: each role is one StageRunner on its own thread with its stage's logic.
#include <atomic>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "security/card_vault.hpp"

namespace turnout {

struct RoleSpec {
    std::string role;     // router | risk | connector | settlement | state | gateway
    std::string channel;  // for connector
};

// Runs the roles until `stop` is set; returns 0 if every role drained cleanly.
int run_roles(const Config& cfg, const CardVault& vault, const std::vector<RoleSpec>& roles, const std::string& instance,
              const std::atomic<bool>& stop);

// Every role of the config: router, risk, one connector per channel, settlement, state, and
// the gateway when gateway.enabled.
std::vector<RoleSpec> all_roles(const Config& cfg);

}  // namespace turnout
