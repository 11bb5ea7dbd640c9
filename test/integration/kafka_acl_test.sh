#!/usr/bin/env bash
# Least privilege on Kafka: a broker of its own that authenticates every client (SASL/SCRAM)
# and allows only the ACLs generated from the topic catalogue (scripts/kafka-local start
# --secure), the whole pipeline on it with one principal per role, then the writes and reads
# the broker must refuse (test/integration/kafka_acl_test.py); the broker is stopped again
# whatever happens.
#
# usage: test/integration/kafka_acl_test.sh [TURNOUT_BINARY]
# Ports: TURNOUT_ACL_TEST_PORT (SASL client listener, default 9382), +1 controller.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TURNOUT_BIN=${1:-${TURNOUT_BIN:-$ROOT/build/turnout}}
PORT=${TURNOUT_ACL_TEST_PORT:-9382}
DIR=$ROOT/var/acl-test
KAFKA=(--dir "$DIR/kafka" --port "$PORT")
PY=$ROOT/var/venv/bin/python

# A fresh broker and run folder each run (stops a broker a previous run may have left behind).
"$ROOT/scripts/kafka-local" reset "${KAFKA[@]}"
rm -rf "$DIR"
"$PY" "$ROOT/test/integration/kafka_acl_test.py" config "$DIR/turnout.yaml" --bootstrap "127.0.0.1:$PORT"
trap '"$ROOT/scripts/kafka-local" stop "${KAFKA[@]}"' EXIT
"$ROOT/scripts/kafka-local" start "${KAFKA[@]}" --controller-port $((PORT + 1)) --secure \
  --config "$DIR/turnout.yaml"
"$PY" "$ROOT/test/integration/kafka_acl_test.py" run --config "$DIR/turnout.yaml" --kafka-dir "$DIR/kafka" \
  --bootstrap "127.0.0.1:$PORT" --controller "127.0.0.1:$((PORT + 1))"
