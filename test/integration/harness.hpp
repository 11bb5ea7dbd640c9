#pragma once
#include <sys/wait.h>
// Shared by the integration tests: an isolated copy of the shipped config per run, reading
// topics to their end, and the channels' ledgers.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <random>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "app/roles.hpp"
#include "config/config.hpp"
#include "kafka/client.hpp"
#include "kafka/topic_reader.hpp"
#include "model/time.hpp"

namespace turnout::it {
namespace fs = std::filesystem;

inline const std::string kSource = TURNOUT_SOURCE_DIR;

inline std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline void replace_once(std::string& s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    REQUIRE_MESSAGE(pos != std::string::npos, from);
    s.replace(pos, from.size(), to);
}

// Replaces the settings of channel `id` in a config text by `settings` (lines indented by
// four spaces), keeping its `fees` and `circuit` lines.
inline void replace_channel(std::string& yaml, const std::string& id, const std::string& settings) {
    const std::string head = "  - id: " + id + "\n";
    const auto start = yaml.find(head);
    REQUIRE_MESSAGE(start != std::string::npos, head);
    size_t pos = start + head.size();
    std::string kept;
    while (pos < yaml.size() && yaml.compare(pos, 4, "    ") == 0) {
        const auto eol = yaml.find('\n', pos);
        const std::string line = yaml.substr(pos, eol - pos + 1);
        if (line.rfind("    fees:", 0) == 0 || line.rfind("    circuit:", 0) == 0) kept += line;
        pos = eol + 1;
    }
    yaml.replace(start, pos - start, head + "    " + settings + kept);
}

// The shipped config, isolated: its own topic/group names, settlement folder and short windows.
inline std::string isolated_yaml(const std::string& run, const fs::path& dir) {
    std::string yaml = read_file(kSource + "/config/turnout.yaml");
    replace_once(yaml, "kafka:\n", "kafka:\n  name_prefix: " + run + ".\n");
    replace_once(yaml, "window_seconds: 10", "window_seconds: 3");
    replace_once(yaml, "grace_seconds: 2", "grace_seconds: 1");
    replace_once(yaml, "output_dir: var/settlement", "output_dir: " + (dir / "settlement").string());
    replace_once(yaml, "keys_file: config/dev-keys.yaml", "keys_file: " + kSource + "/config/dev-keys.yaml");
    replace_once(yaml, "seal_count_dir: var/keys/seals", "seal_count_dir: " + (dir / "seals").string());
    replace_once(yaml, "port: 9464", "port: 0");
    replace_once(yaml, "state_dir: var/state", "state_dir: " + (dir / "state").string());
    replace_once(yaml, "http_port: 9470", "http_port: 0");  // the state role's status endpoint
    // Each channel is played by the in-process simulator, which keeps its ledger of executed
    // payments under the test folder (ISO 8583 and PSP channels have their own tests).
    for (const char* ch : {"acq-eu", "acq-us", "psp-global"})
        replace_channel(yaml, ch,
                        std::string("kind: simulator\n    latency_ms: 2\n    ledger_file: ") + (dir / "ledger-").string() +
                            ch + ".log\n");
    return yaml;
}

inline Config isolated_config(const std::string& run, const fs::path& dir, std::string yaml = {}) {
    if (yaml.empty()) yaml = isolated_yaml(run, dir);
    auto cfg = parse_config(yaml, "turnout.yaml(" + run + ")");
    const char* bootstrap = std::getenv("TURNOUT_BOOTSTRAP");
    cfg.kafka.bootstrap_servers = bootstrap && *bootstrap ? bootstrap : "127.0.0.1:9092";
    return cfg;
}

struct Consumed {
    std::string topic, key, value;
    std::map<std::string, std::string> headers;
    int32_t partition = 0;
    int64_t offset = 0;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// Every committed record of `topics`, from the beginning up to the current end.
inline std::vector<Consumed> read_all(const Config& cfg, const std::vector<std::string>& topics) {
    std::vector<Consumed> out;
    for (const auto& topic : topics) {
        kafka::TopicReader reader(cfg.kafka, "turnout.it.reader." + std::to_string(now_ms()));
        std::map<int32_t, std::pair<int64_t, int64_t>> ranges;
        for (int32_t p : reader.partitions(topic)) ranges[p] = reader.watermarks(topic, p);
        try {
            reader.read_ranges(topic, ranges, [&](const kafka::Record& r) {
                Consumed c{std::string(r.topic), std::string(r.key), std::string(r.value), {}, r.partition, r.offset};
                for (auto& [k, v] : kafka::all_headers(r)) c.headers[k] = std::move(v);
                out.push_back(std::move(c));
                return true;
            });
        } catch (const std::exception& e) {
            FAIL_CHECK(topic << " not read to its end: " << e.what());
        }
    }
    return out;
}

// payment_ids that appear more than once across the channels' ledgers.
inline int ledger_double_executions(const fs::path& dir) {
    std::map<std::string, int> executed;
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().rfind("ledger-", 0) == 0) {
            ++files;
            std::ifstream f(e.path());
            for (std::string line; std::getline(f, line);) ++executed[line.substr(0, line.find(' '))];
        }
    REQUIRE(files > 0);
    int doubles = 0;
    for (const auto& [id, n] : executed) doubles += n > 1;
    return doubles;
}

// The whole switch (`turnout all`), or only `roles` of it, on a thread of this process;
// stopped (drained) on destruction or by stop(), which returns the exit status run_roles gave.
// A free TCP port on the loopback address, for an endpoint a test starts.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// A `turnout` child process (the build's binary) with its arguments, standard output and
// error appended to `log`.
inline pid_t spawn_turnout(const std::vector<std::string>& args, const fs::path& log) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        std::vector<char*> argv{const_cast<char*>("turnout")};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(TURNOUT_BINARY, argv.data());
        ::_exit(127);
    }
    return pid;
}

class SwitchThread {
public:
    SwitchThread(const Config& cfg, const CardVault& vault, std::vector<RoleSpec> roles = {})
        : roles_(roles.empty() ? all_roles(cfg) : std::move(roles)) {
        thread_ = std::thread([&, this] { rc_ = run_roles(cfg, vault, roles_, "0", stop_); });
    }
    ~SwitchThread() { stop(); }
    int stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        return rc_;
    }

private:
    std::vector<RoleSpec> roles_;
    std::atomic<bool> stop_{false};
    int rc_ = -1;
    std::thread thread_;
};

// The roles of `turnout all` but the channels' connectors, and the connectors alone.
inline std::vector<RoleSpec> roles_but_connectors(const Config& cfg) {
    std::vector<RoleSpec> out;
    for (auto& r : all_roles(cfg))
        if (r.role != "connector") out.push_back(r);
    return out;
}
inline std::vector<RoleSpec> connector_roles(const Config& cfg) {
    std::vector<RoleSpec> out;
    for (auto& r : all_roles(cfg))
        if (r.role == "connector") out.push_back(r);
    return out;
}


// The exit status of child `pid` (128 + signal when killed).
inline int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Keys in a SoftHSM2 token of the run (security.key_provider: pkcs11) instead of the key file:
// makes the token under `dir`/hsm (SOFTHSM2_CONF is set for this process and its children;
// the module reads it once per process), switches `yaml` to it with no key file at all, and
// after the caller wrote `yaml` to `config`, runs `turnout keys init` as an operator would.
inline void use_softhsm_token(std::string& yaml, const fs::path& dir, const std::string& label) {
    fs::create_directories(dir / "hsm" / "tokens");
    std::ofstream(dir / "hsm" / "softhsm2.conf") << "directories.tokendir = " << (dir / "hsm" / "tokens").string()
                                                  << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    ::setenv("SOFTHSM2_CONF", (dir / "hsm" / "softhsm2.conf").c_str(), 1);
    REQUIRE(std::system(("softhsm2-util --init-token --free --label " + label +
                         " --pin 4321 --so-pin 8765 >/dev/null").c_str()) == 0);
    std::ofstream(dir / "hsm" / "pin") << "4321\n";
    fs::permissions(dir / "hsm" / "pin", fs::perms::owner_read | fs::perms::owner_write);
    replace_once(yaml, "  key_provider: file\n", "  key_provider: pkcs11\n");
    replace_once(yaml, "    token_label: turnout\n", "    token_label: " + label + "\n");
    replace_once(yaml, "    pin_file: \"\"", "    pin_file: " + (dir / "hsm" / "pin").string());
    replace_once(yaml, "key_set_file: var/keys/key-set.yaml", "key_set_file: " + (dir / "hsm" / "key-set.yaml").string());
    replace_once(yaml, "keys_file: " + kSource + "/config/dev-keys.yaml", "keys_file: /nonexistent/keys.yaml");
}

inline void init_softhsm_keys(const fs::path& config, const fs::path& dir) {
    CHECK(wait_exit(spawn_turnout({"keys", "init", "--config", config.string()}, dir / "keys-init.log")) == 0);
    MESSAGE(read_file(dir / "keys-init.log"));
}

// Brings the key `id` of config/dev-keys.yaml (`mac_keys` or `pin_keys`: the bank's copy the
// host simulator reads) into the run's token as two custodians would: `turnout keys import`
// with two components on its standard input, the first random, the second the key XOR the
// first. `acquiring`: the acquiring zone's PIN key.
inline void import_key_into_token(const fs::path& config, const fs::path& dir, const std::string& purpose,
                                  const std::string& id, bool acquiring = false) {
    std::string key_hex, algorithm;
    for (const auto& k : YAML::LoadFile(kSource + "/config/dev-keys.yaml")[purpose + "_keys"])
        if (k["id"].as<std::string>() == id) key_hex = k["key_hex"].as<std::string>(), algorithm = k["algorithm"].as<std::string>();
    REQUIRE_MESSAGE(!key_hex.empty(), "config/dev-keys.yaml has a " << purpose << " key " << id);
    static const char* hex = "0123456789abcdef";
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    std::string c1, c2;
    std::random_device rd;
    for (char c : key_hex) {
        const int r = static_cast<int>(rd() % 16);
        c1 += hex[r];
        c2 += hex[nibble(c) ^ r];
    }
    const auto log = dir / ("keys-import-" + id + ".log");
    const std::string cmd = "printf '%s\\n%s\\n' " + c1 + " " + c2 + " | " + TURNOUT_BINARY + " keys import --config " +
                            config.string() + " --id " + id + " --purpose " + purpose + " --algorithm " + algorithm +
                            (acquiring ? " --acquiring" : "") + " --components 2 >" + log.string() + " 2>&1";
    CHECK(std::system(cmd.c_str()) == 0);
    MESSAGE(read_file(log));
}

}  // namespace turnout::it
