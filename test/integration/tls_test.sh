#!/usr/bin/env bash
# The whole pipeline over Kafka TLS: a throw-away CA (scripts/tls-ca), a broker of its own with
# a mutual-TLS listener (scripts/kafka-local start --tls), then the TLS test case of the
# integration tests against it; the broker is stopped again whatever happens.
#
# usage: test/integration/tls_test.sh INTEGRATION_TESTS_BINARY
# Ports: TURNOUT_TLS_TEST_PORT (plaintext, default 9282), +1 TLS, +2 controller.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:?usage: tls_test.sh INTEGRATION_TESTS_BINARY}
PORT=${TURNOUT_TLS_TEST_PORT:-9282}
DIR=$ROOT/var/tls-test
KAFKA=(--dir "$DIR/kafka" --port "$PORT")

"$ROOT/scripts/tls-ca" --dir "$DIR/tls" --days 2
# A fresh broker each run (stops one a previous run may have left behind).
"$ROOT/scripts/kafka-local" reset "${KAFKA[@]}"
trap '"$ROOT/scripts/kafka-local" stop "${KAFKA[@]}"' EXIT
"$ROOT/scripts/kafka-local" start "${KAFKA[@]}" --controller-port $((PORT + 2)) \
  --tls --tls-port $((PORT + 1)) --tls-dir "$DIR/tls"
TURNOUT_TLS_BOOTSTRAP=127.0.0.1:$((PORT + 1)) TURNOUT_TLS_DIR=$DIR/tls \
  "$BIN" -tc='the whole pipeline over Kafka TLS*'
