#!/usr/bin/env bash
# Cluster figures for docs/benchmarks.md, on loopback only; everything it starts it stops.
#   1. throughput: 1 producer -> 1 queue -> 1 consumer with everything on one node, and with the
#      publisher on node A, the queue on node B and the consumer on node C; transient and
#      persistent-with-confirms; this broker (3 nodes over a throwaway PostgreSQL) and, if
#      ../shared/tools/rabbitmq-cluster exists, a 3-node RabbitMQ cluster (5681-5683), alternating.
#   Failover: bench/failover.sh.
# Usage: bench/cluster.sh [throughput-runs]   (default 3; SKIP_RABBITMQ=1)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
OUT=${OUT:-/tmp/broker-cluster-bench.jsonl}
NODE=src/Broker.Node/bin/Release/net10.0/Broker.Node.dll
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"
RMQC=${RMQC:-../shared/tools/rabbitmq-cluster}
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null

WORK=$(mktemp -d /tmp/broker-cluster-bench-XXXX)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_PORT=55499
AMQP=(5711 5712 5713)
CLUSTER=(4071 4072 4073)
declare -a PIDS=(0 0 0)

cleanup() {
  for p in "${PIDS[@]}"; do [ "$p" != 0 ] && kill -9 "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  [ "${SKIP_RABBITMQ:-0}" = 1 ] || [ ! -x "$RMQC" ] || "$RMQC" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

chown postgres "$WORK"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres --no-sync >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK" start >/dev/null
psql -h 127.0.0.1 -p $PG_PORT -U postgres -qc "CREATE DATABASE broker"
CONN="Host=127.0.0.1;Port=$PG_PORT;Database=broker;Username=postgres;Password=x"
SEEDS="127.0.0.1:${CLUSTER[0]},127.0.0.1:${CLUSTER[1]},127.0.0.1:${CLUSTER[2]}"

start_node() { # $1 index
  local i=$1
  BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=${AMQP[$i]} BROKER_CLUSTER_PORT=${CLUSTER[$i]} BROKER_CLUSTER_SEEDS=$SEEDS \
  BROKER_NODE_NAME=n$((i + 1)) BROKER_JOURNAL_PROVIDER=postgresql BROKER_JOURNAL_CONNECTION="$CONN" \
  BROKER_DATA_DIR="$WORK/n$i" BROKER_LOG_LEVEL=INFO dotnet "$NODE" >>"$WORK/n$i.log" 2>&1 &
  PIDS[$i]=$!
}
wait_ready() { # $1 index
  for _ in $(seq 1 1200); do
    [ "$(grep -c 'broker: AMQP 0-9-1 listening' "$WORK/n$1.log")" -ge "${2:-1}" ] && return 0
    kill -0 "${PIDS[$1]}" 2>/dev/null || { tail -20 "$WORK/n$1.log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
for i in 0 1 2; do start_node $i; done
for i in 0 1 2; do wait_ready $i; done
uri() { echo "amqp://guest:guest@127.0.0.1:$1/"; }

RMQ=0
if [ "${SKIP_RABBITMQ:-0}" != 1 ] && [ -x "$RMQC" ]; then "$RMQC" start >/dev/null && RMQ=1; fi

# ---- 1. throughput ------------------------------------------------------------------------
declare -A LOAD=(
  [transient]="--producers 1 --consumers 1 --queues 1 --size 1024 --prefetch 1000 --duration 10"
  [persistent]="--persistent --confirms 1000 --producers 1 --consumers 1 --queues 1 --size 1024 --duration 10"
)
: > "$OUT"
run_bench() { # broker layout load run p d c
  local line
  line=$($BENCH --uri "$(uri "$5")" --declare-uri "$(uri "$6")" --consumer-uri "$(uri "$7")" ${LOAD[$3]} --json 2>/dev/null | tail -1 || true)
  [ -n "$line" ] || line='{"consumeRate":0,"latencyP50Ms":0,"latencyP99Ms":0,"lost":-1,"duplicates":-1}'
  echo "{\"broker\":\"$1\",\"layout\":\"$2\",\"load\":\"$3\",\"run\":$4,\"result\":$line}" >> "$OUT"
}
for load in transient persistent; do
  for r in $(seq "$RUNS"); do
    run_bench broker one-node $load "$r" ${AMQP[0]} ${AMQP[0]} ${AMQP[0]}
    run_bench broker cross-node $load "$r" ${AMQP[0]} ${AMQP[1]} ${AMQP[2]}
    if [ $RMQ = 1 ]; then
      run_bench rabbitmq one-node $load "$r" 5681 5681 5681
      run_bench rabbitmq cross-node $load "$r" 5681 5682 5683
    fi
  done
done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'broker':9} {'layout':11} {'load':11} {'runs (consume msg/s)':30} {'median':>8} {'p50 ms':>7} {'p99 ms':>7} lost")
for load in ["transient", "persistent"]:
    for b in ["broker", "rabbitmq"]:
        for layout in ["one-node", "cross-node"]:
            rs = [r["result"] for r in rows if r["broker"] == b and r["layout"] == layout and r["load"] == load]
            if not rs: continue
            c = [x["consumeRate"] for x in rs]
            print(f"{b:9} {layout:11} {load:11} {', '.join(f'{x:,.0f}' for x in c):30} {st.median(c):>8,.0f} "
                  f"{st.median([x['latencyP50Ms'] for x in rs]):>7.1f} {st.median([x['latencyP99Ms'] for x in rs]):>7.1f} "
                  f"{sum(x['lost'] for x in rs)}")
PY

# Failover is measured by bench/failover.sh (SIGKILL and SIGSTOP, next to RabbitMQ quorum queues).
