// Hot reload of the routing and risk rules: validate first, refuse an invalid file with
// file:line:column and keep the rules in force.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "domain/rules_source.hpp"
#include "../../metric_checks.hpp"

using namespace turnout;
namespace fs = std::filesystem;

namespace {
std::string shipped() {
    std::ifstream in(std::string(TURNOUT_SOURCE_DIR) + "/config/turnout.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void replace(std::string& s, const std::string& from, const std::string& to) {
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    s.replace(pos, from.size(), to);
}
}  // namespace

TEST_CASE("rules reload: an invalid file is refused with file:line:column, a valid one applied whole") {
    const fs::path dir = fs::temp_directory_path() / ("turnout-rules-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path file = dir / "turnout.yaml";
    const std::string yaml = shipped();
    std::ofstream(file) << yaml;
    const Config cfg = load_config(file.string());
    RulesSource source(cfg);
    const auto first = source.current();
    CHECK(first->version == 1);
    CHECK(first->routes.front().name == "eur-high-value-cards");
    const auto refused = [] { return metric_value("turnout_rules_reloads_total", {{"outcome", "refused"}}); };
    const double refused0 = refused();

    struct Bad {
        const char* name;
        const char* from;
        const char* to;
        const char* error;  // after "<file>:"
    };
    const Bad cases[] = {
        {"unknown channel in a plan", "plan: [acq-eu, psp-global]", "plan: [acq-eu, psp-globl]",
         "route plan names unknown channel `psp-globl`"},
        {"YAML syntax", "decline_score: 100", "decline_score: [100", "invalid YAML"},
        {"bad velocity", "per: instrument, window_seconds: 600", "per: card, window_seconds: 600",
         "`velocity.per` is instrument or merchant"},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        std::string text = yaml;
        replace(text, c.from, c.to);
        std::ofstream(file) << text;
        std::string error;
        CHECK_FALSE(source.reload(&error));
        CHECK(error.rfind(file.string() + ":", 0) == 0);  // file:line:column
        CHECK(error.find(c.error) != std::string::npos);
        CHECK(source.current() == first);  // the rules in force stay
    }
    CHECK(refused() == refused0 + 3);

    // A rule naming a channel the running switch does not have is refused too.
    std::string extra = yaml;
    replace(extra, "  - id: psp-global\n", "  - id: psp-new\n    kind: simulator\n  - id: psp-global\n");
    replace(extra, "plan: [acq-eu, psp-global]", "plan: [psp-new, psp-global]");
    std::ofstream(file) << extra;
    std::string error;
    CHECK_FALSE(source.reload(&error));
    CHECK(error.find("adding a channel needs a restart") != std::string::npos);

    std::string good = yaml;
    replace(good, "decline_score: 100 ", "decline_score: 90 ");
    replace(good, "- name: default\n", "- name: fallback-default\n");
    std::ofstream(file) << good;
    REQUIRE(source.reload());
    const auto second = source.current();
    CHECK(second->version == 2);
    CHECK(second->risk.decline_score == 90);
    CHECK(second->routes.back().name == "fallback-default");
    // The old set lives on while a batch still holds it.
    CHECK(first->risk.decline_score == 100);

    // The watcher reloads on request (SIGHUP) as well as on a change of the file.
    source.watch(20);
    replace(good, "decline_score: 90 ", "decline_score: 80 ");
    std::ofstream(file) << good;
    for (int i = 0; i < 250 && source.current()->version < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(source.current()->risk.decline_score == 80);
    request_rules_reload();
    for (int i = 0; i < 250 && source.current()->version < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(source.current()->version == 4);
    source.stop();
    fs::remove_all(dir);
}
