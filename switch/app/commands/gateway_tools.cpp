// turnout gateway-key (a merchant's API key) and turnout openapi (the bundled document).
#include <iostream>

#include "app/command.hpp"
#include "gateway/api_keys.hpp"
#include "gateway/openapi_bundle.hpp"

namespace turnout::app {

void add_gateway_key(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("gateway-key", "make a new gateway API key and its gateway.api_keys_file line");
    auto merchant = std::make_shared<std::string>();
    s->add_option("--merchant", *merchant, "merchant id the key acts for")->required();
    s->callback([&ctx, merchant] {
        ctx.run = [merchant] {
            if (merchant->empty() || merchant->size() > 64 || merchant->find_first_of(" \t\r\n#") != std::string::npos) {
                std::cerr << "turnout: --merchant must be 1-64 bytes without spaces or #\n";
                return 2;
            }
            const auto k = gateway::make_api_key(*merchant);
            std::cout << "key:  " << k.key << "\n"
                      << "line: " << k.line << "\n"
                      << "Give the key to the merchant once (it is not stored); add the line to gateway.api_keys_file.\n";
            return 0;
        };
    });
}

void add_openapi(CLI::App& app, Context& ctx) {
    auto* s = app.add_subcommand("openapi", "print the gateway's OpenAPI document with the message schemas inlined");
    struct Paths {
        std::string doc = "docs/openapi.yaml", schemas = "schemas";
    };
    auto p = std::make_shared<Paths>();
    s->add_option("--doc", p->doc, "the OpenAPI document")->capture_default_str();
    s->add_option("--schemas", p->schemas, "the directory of the message schemas")->capture_default_str();
    s->callback([&ctx, p] {
        ctx.run = [p] {
            std::cout << gateway::bundle_openapi(p->doc, p->schemas);
            return 0;
        };
    });
}

}  // namespace turnout::app
