// An operator's YAML: parse_config either returns a config or throws ConfigError naming the
// file; no other exception, no crash, no hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string yaml(reinterpret_cast<const char*>(data), size);
    try {
        (void)turnout::parse_config(yaml, "fuzz.yaml");
    } catch (const turnout::ConfigError& e) {
        if (std::string_view(e.what()).rfind("fuzz.yaml", 0) != 0) std::abort();
    }
    return 0;
}
