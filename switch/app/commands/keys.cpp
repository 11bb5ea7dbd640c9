// turnout keys init|rotate|list|import: the card-data and signing keys (security.key_provider).
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "app/command.hpp"
#include "security/pkcs11.hpp"

namespace turnout::app {
namespace {

struct KeysOptions {
    bool rotate_kek = false;
    KeyImport import;
};

enum class KeysCommand { kInit, kRotate, kList, kImport };

// The custodians' components, one hex line each on stdin; not echoed on a terminal.
int import_from_stdin(const SecurityConfig& sec, const KeyImport& what) {
    termios saved{};
    const bool tty = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
    if (tty) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(0, TCSANOW, &quiet);
        std::cerr << "enter " << what.components
                  << " components, one hex line each (each custodian enters their own; not echoed)\n";
    }
    struct Restore {
        bool tty;
        termios saved;
        ~Restore() {
            if (tty) ::tcsetattr(0, TCSANOW, &saved);
        }
    } restore{tty, saved};
    return keys_import(sec, what, std::cin, std::cout);
}

int run_keys(const Context& ctx, const KeysOptions& o, KeysCommand what) {
    const auto cfg = ctx.config();
    if (what == KeysCommand::kList) return keys_list(cfg.security, Context::keys_path(cfg), std::cout);
    if (cfg.security.key_provider != "pkcs11")
        throw ConfigError("`turnout keys " +
                          std::string(what == KeysCommand::kInit     ? "init"
                                      : what == KeysCommand::kImport ? "import"
                                                                     : "rotate") +
                          "` manages PKCS#11 keys; security.key_provider is `file` (edit " +
                          Context::keys_path(cfg) + " instead)");
    switch (what) {
        case KeysCommand::kInit: return keys_init(cfg.security, std::cout);
        case KeysCommand::kRotate: return keys_rotate(cfg.security, o.rotate_kek, std::cout);
        default: return import_from_stdin(cfg.security, o.import);
    }
}

}  // namespace

void add_keys(CLI::App& app, Context& ctx) {
    auto* keys = app.add_subcommand("keys", "the card-data and signing keys (security.key_provider)");
    keys->require_subcommand(1);
    auto o = std::make_shared<KeysOptions>();
    auto* init = keys->add_subcommand("init", "pkcs11: a key-encryption key in the token and the first data keys");
    auto* rotate = keys->add_subcommand("rotate", "pkcs11: a new PAN key for new seals (--kek: a new KEK)");
    rotate->add_flag("--kek", o->rotate_kek, "a new key-encryption key; every data key re-wrapped under it");
    auto* list = keys->add_subcommand("list", "the keys, which is active, seals per key against the limit");
    auto* imp = keys->add_subcommand(
        "import", "pkcs11: a host MAC key or zone PIN key from its custodians' clear components (hex lines on stdin)");
    auto& ki = o->import;
    imp->add_option("--id", ki.id, "the key's id, as a channel's mac_key names it")->required();
    imp->add_option("--purpose", ki.purpose, "mac (a host MAC key) | pin (a zone PIN key)")->capture_default_str();
    imp->add_option("--algorithm", ki.algorithm, "mac: retail-des3 | aes-cmac; pin: des3 | aes")->required();
    imp->add_flag("--acquiring", ki.acquiring, "pin: the acquiring zone's key, under which requests carry PIN blocks");
    imp->add_option("--kcv", ki.expect_kcv, "the key check value on the bank's form (6 hex digits): refuse a key that differs");
    imp->add_option("--components", ki.components, "how many components are XORed into the key")->capture_default_str();
    for (auto* sub : {init, rotate, list, imp}) add_config_option(*sub, ctx);
    run_when_chosen<KeysCommand>(ctx,
                    {{init, KeysCommand::kInit}, {rotate, KeysCommand::kRotate}, {list, KeysCommand::kList},
                     {imp, KeysCommand::kImport}},
                    [&ctx, o](KeysCommand what) { return run_keys(ctx, *o, what); });
}

}  // namespace turnout::app
