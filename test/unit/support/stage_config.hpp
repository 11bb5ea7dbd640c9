#pragma once
// A config for driving stages without a broker: two simulator channels (in-process), the
// development keys, stores and clearing files under a test's own directory.
#include <string>

#include "config/config.hpp"
#include "connector.hpp"
#include "security/card_vault.hpp"
#include "security/key_provider.hpp"
#include "support/stage_driver.hpp"

namespace turnout::testing {

inline Config stage_config(const TempDir& dir) {
    const std::string d = dir.path.string();
    auto cfg = parse_config(R"(kafka:
  bootstrap_servers: 127.0.0.1:1
  topics: {}
security:
  keys_file: )" + std::string(TURNOUT_SOURCE_DIR) + R"(/config/dev-keys.yaml
state_dir: )" + d + R"(/state
router:
  routes:
    - name: all
      plan: [sim-a, sim-b]
risk:
  bin_blocklist: ["400009"]
  rules:
    - { name: card_velocity, score: 100, velocity: { per: instrument, window_seconds: 600, max_count: 20 } }
settlement:
  output_dir: )" + d + R"(/settlement
  window_seconds: 1
  grace_seconds: 0
channels:
  - id: sim-a
    kind: simulator
    latency_ms: 0
  - id: sim-b
    kind: simulator
    latency_ms: 0
)",
                            "stage-test.yaml");
    validate_channels(cfg);
    return cfg;
}

// Every key the stages use, from the development keys file.
inline CardVault stage_vault(const Config& cfg) {
    return CardVault(load_key_provider(cfg, kSealPan | kOpenPan | kFingerprint | kSettlement, cfg.security.keys_file));
}

// A stage test's world (a doctest fixture): its own directory, the config, the keys.
struct StageWorld {
    TempDir dir;
    Config cfg = stage_config(dir);
    CardVault vault = stage_vault(cfg);
    const TopicNames& t = cfg.kafka.topics;
};

inline const char* const kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// A card sale of `amount` minor units (EUR); the last two digits choose the simulator's answer.
inline std::string sale(const std::string& id, int64_t amount, const std::string& pan = "4111111111111111") {
    return R"({"payment_id":")" + id + R"(","type":"sale","merchant":{"id":"m1"},"amount":{"value":)" +
           std::to_string(amount) + R"(,"currency":"EUR"},"instrument":{"kind":"card","pan":")" + pan +
           R"(","expiry":"2812"},"created_at":"2026-11-26T06:33:25.123Z"})";
}

}  // namespace turnout::testing
