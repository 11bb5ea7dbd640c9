// The bad-input corpus (test/data/bad-requests, written by test/data/make_bad_requests.py):
// every case is refused with its named reason, a rejected result is possible exactly when the
// payment_id is readable, and no rejection message repeats card digits.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "codec/request_decoder.hpp"

using namespace turnout;
namespace fs = std::filesystem;

namespace {

struct BadCase {
    std::string name, reason;
    bool result = false;
    std::string key;
};

const fs::path kCorpus = fs::path(TURNOUT_SOURCE_DIR) / "test" / "data" / "bad-requests";

std::vector<BadCase> manifest() {
    std::vector<BadCase> out;
    std::ifstream f(kCorpus / "MANIFEST.tsv");
    for (std::string line; std::getline(f, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        BadCase c;
        std::string result;
        std::getline(ss, c.name, '\t');
        std::getline(ss, c.reason, '\t');
        std::getline(ss, result, '\t');
        std::getline(ss, c.key, '\t');
        c.result = result == "yes";
        out.push_back(std::move(c));
    }
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool has_long_digit_run(std::string_view s) {
    size_t run = 0;
    for (char c : s) {
        run = (c >= '0' && c <= '9') ? run + 1 : 0;
        if (run >= 12) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("bad-input corpus: each case is refused with its reason") {
    const auto cases = manifest();
    REQUIRE(cases.size() >= 60);
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto bytes = slurp(kCorpus / (c.name + ".json"));
        const auto out = decode_request(bytes, 65536);
        CHECK(!out.request.has_value());
        if (!out.rejection) {
            FAIL_CHECK("accepted");
            continue;
        }
        CHECK(out.rejection->code == c.reason);
        // A rejected result is sent exactly when the payment_id is readable.
        CHECK(!out.rejection->payment_id.empty() == c.result);
        CHECK(!has_long_digit_run(out.rejection->message));
    }
}
