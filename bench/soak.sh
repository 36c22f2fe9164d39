#!/usr/bin/env bash
# Soak (issue 11, point 7): a throwaway node (SQLite journal in a temp data directory, AMQP on
# 5710, management API on 15710, no Prometheus listener) under mixed producers and consumers for
# DURATION seconds while random clients are killed and reconnect; the bench samples the node's RSS
# (/proc/PID) and the management API, checks that every confirmed message was consumed and prints
# the RSS after warm-up with its slope. Loopback only; it stops only the node it started, by PID.
# Both processes run under nice so that the machine stays usable.
# Usage: bench/soak.sh [extra Broker.Bench soak options...]
#   DURATION=1800 (s of load), SAMPLE_EVERY=10, KILL_EVERY=10, SEED (default: from the clock),
#   OUT=/tmp/broker-soak.log (the soak's output; the JSON line goes to $OUT.json), KEEP=1 (keep the node log)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-1800}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
KILL_EVERY=${KILL_EVERY:-10}
OUT=${OUT:-/tmp/broker-soak.log}
AMQP_PORT=5710
MANAGEMENT_PORT=15710
NODE=src/Broker.Node/bin/Release/net10.0/Broker.Node.dll
BENCH=bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll
# Others build in this tree's neighbours at the same time: one build at a time on this machine.
flock /tmp/broker-build.lock nice -n 10 dotnet build -c Release src/Broker.Node -v q >/dev/null
flock /tmp/broker-build.lock nice -n 10 dotnet build -c Release bench/Broker.Bench -v q >/dev/null

WORK=$(mktemp -d /tmp/broker-soak-XXXX)
NODE_PID=""
cleanup() {
  [ -n "$NODE_PID" ] && kill -TERM "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "node log kept in $WORK/node.log" || rm -rf "$WORK"
}
trap cleanup EXIT

BROKER_AMQP_PORT=$AMQP_PORT BROKER_MANAGEMENT_PORT=$MANAGEMENT_PORT BROKER_PROMETHEUS_PORT=off \
  BROKER_DATA_DIR="$WORK/data" nice -n 10 dotnet "$NODE" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 600); do
  grep -q 'broker: AMQP 0-9-1 listening' "$WORK/node.log" && break
  kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'broker: AMQP 0-9-1 listening' "$WORK/node.log" || { tail -20 "$WORK/node.log" >&2; exit 1; }
echo "node pid $NODE_PID, data in $WORK/data, soak output in $OUT"

status=0
nice -n 10 dotnet "$BENCH" soak --uri "amqp://guest:guest@127.0.0.1:$AMQP_PORT/" \
  --management "http://127.0.0.1:$MANAGEMENT_PORT/" --node-pid "$NODE_PID" --data-dir "$WORK/data" \
  --duration "$DURATION" --sample-every "$SAMPLE_EVERY" --kill-every "$KILL_EVERY" \
  ${SEED:+--seed "$SEED"} --json "$@" 2>&1 | tee "$OUT" || status=$?
grep '^{' "$OUT" > "$OUT.json" || true
# The node's warnings and errors: the kills' own (a connection reset or broken pipe) and slow
# journal commits are counted, anything else is shown.
LOG="$WORK/node.log"
echo "node log: $(grep -c '^\[WARNING\].*AMQP connection .* failed: ' "$LOG" || true) connections failed on a reset socket (kills)," \
  "$(grep -c '^\[WARNING\].*journal: slow \(write\|delete\)' "$LOG" || true) slow journal commits or deletes (> 50 ms); other warnings and errors:"
grep -E '^\[(WARNING|ERROR)\]' "$LOG" | grep -v -e 'AMQP connection .* failed: ' -e 'journal: slow \(write\|delete\)' | tail -20 || true
kill -0 "$NODE_PID" 2>/dev/null || { echo "the node died during the soak" >&2; status=1; }
exit "$status"
