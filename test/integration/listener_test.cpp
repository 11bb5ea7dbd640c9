// The gateway holds its listener limits against hostile clients over real sockets, with
// the real broker behind it (docs/security.md "Listeners"): slowloris connections closed at
// the header timeout while a normal request is answered, a flood over the cap closed at
// once while an open connection is still answered, an oversize body refused 413 unread.
// The other listeners need no broker: test/unit/net/listener_test.cpp.
#include <doctest/doctest.h>

#include "../listener_checks.hpp"
#include "gateway/api_keys.hpp"
#include "gateway/gateway_server.hpp"
#include "harness.hpp"
#include "requests_kit.hpp"

using namespace turnout;
using namespace turnout::it;

TEST_CASE("gateway listener: slowloris, flood over the cap, oversize body") {
    auto run = make_run("listen");
    Config cfg = run.cfg;
    cfg.gateway.port = 0;
    cfg.gateway.openapi_file = kSource + "/docs/openapi.yaml";
    cfg.gateway.limits = {4, 500, 500, 1024};
    gateway::Gateway gw(cfg, gateway::ApiKeys({{"m-listen", gateway::sha256_hex_of("tk_listen")}}), "listen-1");
    const probe::Listener l{"gateway", gw.port(), "/v1/openapi.yaml", cfg.gateway.limits};
    probe::check_slowloris(l);
    probe::check_flood(l);
    probe::check_oversize(l, "POST", "/v1/payments", "Authorization: Bearer tk_listen\r\nContent-Type: application/json\r\n");
}
