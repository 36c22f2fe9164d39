#!/usr/bin/env bash
# Publish-confirm latency and throughput (issue 12), this broker next to RabbitMQ in the same run,
# alternating run by run, loopback only; everything it starts it stops.
#   one     1 publisher, ONE confirm in flight, persistent 1 KiB, durable queue, 1 consumer
#   ten     10 publishers on 10 queues, each with one confirm in flight (what group commit merges)
#   many    1 publisher, 1000 confirms in flight
#   rate    transient, a fixed 1000 msg/s, no confirms: end-to-end latency
# Brokers: RabbitMQ on 127.0.0.1:5672 (../shared/tools/rabbitmq-local start), this broker on the
# SQLite journal (port 5680) and on a throwaway PostgreSQL (port 5690; the cluster's journal).
# Every run prints the longest confirm and when it arrived: look it up in the node logs kept in
# $WORK (KEEP=1), where a journal commit over 50 ms is logged with what it carried.
# Usage: bench/confirms.sh [runs] (default 3); ONE_DURATION=60 (s per run of "one"), DURATION=20 (the
#        others); SCENARIOS="one ten many rate";
#        BROKERS="rabbitmq sqlite postgresql"
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DURATION=${DURATION:-20}
ONE_DURATION=${ONE_DURATION:-60}
SCENARIOS=${SCENARIOS:-"one ten many rate"}
BROKERS=${BROKERS:-"rabbitmq sqlite postgresql"}
OUT=${OUT:-/tmp/broker-confirms.jsonl}
NODE=src/Broker.Node/bin/Release/net10.0/Broker.Node.dll
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null

WORK=$(mktemp -d /tmp/broker-confirms-XXXX)
PG_BIN=""
PG_PORT=55498
declare -A PORT=([rabbitmq]=5672 [sqlite]=5680 [postgresql]=5690)
declare -A PID=()   # every broker's PID, for --broker-pid
STARTED=()          # the nodes this script started: the only processes it stops
cleanup() {
  for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [ -d "$WORK/pg" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] && echo "logs kept in $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

start_node() { # $1 name, then environment
  local name=$1; shift
  env BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=${PORT[$name]} BROKER_DATA_DIR="$WORK/$name" \
    BROKER_LOG_LEVEL=WARNING "$@" dotnet "$NODE" >"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  STARTED+=("$!")
  for _ in $(seq 1 600); do grep -q 'broker: AMQP 0-9-1 listening' "$WORK/$name.log" && return 0; sleep 0.1; done
  tail -20 "$WORK/$name.log" >&2; return 1
}
for b in $BROKERS; do
  case $b in
    rabbitmq) PID[rabbitmq]=$(pgrep -f 'beam.smp.*rabbit' | head -1) || { echo "RabbitMQ is not running on 5672"; exit 1; } ;;
    sqlite) start_node sqlite ;;
    postgresql)
      PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
      chown postgres "$WORK"
      runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres --no-sync >/dev/null
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
        -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK" start >/dev/null
      psql -h 127.0.0.1 -p $PG_PORT -U postgres -qc "CREATE DATABASE broker"
      start_node postgresql BROKER_JOURNAL_PROVIDER=postgresql \
        BROKER_JOURNAL_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Database=broker;Username=postgres;Password=x" ;;
  esac
done

declare -A SCEN=(
  [one]="--persistent --confirms 1 --producers 1 --consumers 1 --queues 1"
  [ten]="--persistent --confirms 1 --producers 10 --consumers 10 --queues 10"
  [many]="--persistent --confirms 1000 --producers 1 --consumers 1 --queues 1"
  [rate]="--rate 1000 --producers 1 --consumers 1 --queues 1"
)
: > "$OUT"
for s in $SCENARIOS; do
  for r in $(seq "$RUNS"); do
    for b in $BROKERS; do
      line=$($BENCH --uri "amqp://guest:guest@127.0.0.1:${PORT[$b]}/" ${SCEN[$s]} --size 1024 --prefetch 1000 \
        --duration "$([ "$s" = one ] && echo "$ONE_DURATION" || echo "$DURATION")" --warmup 2 --broker-pid "${PID[$b]}" --json 2>/dev/null | tail -1 || true)
      echo "{\"scenario\":\"$s\",\"broker\":\"$b\",\"run\":$r,\"result\":$line}" >> "$OUT"
      echo "$line" | python3 -c '
import json, sys
x = json.load(sys.stdin)
print(sys.argv[1], "confirm %.0f/s p50 %.2f p99 %.2f max %.1f ms at %s; e2e p99 %.2f ms; lost %s" % (x["confirmRate"],
      x.get("confirmP50Ms", 0), x.get("confirmP99Ms", 0), x.get("confirmMaxMs", 0), (x.get("longestConfirmAt") or "-")[11:23],
      x["latencyP99Ms"], x["lost"]))' "$s $b run $r:" 2>/dev/null || echo "$s $b run $r: failed"
    done
  done
done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if '"result":{' in l]
med = lambda xs: st.median(xs) if xs else float('nan')
print(f"\n{'scenario':9} {'broker':11} {'confirm/s (runs)':30} {'median':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'e2e p99':>8} {'us/msg':>7} lost")
for s in dict.fromkeys(r["scenario"] for r in rows):
    base = None
    for b in dict.fromkeys(r["broker"] for r in rows):
        rs = [r["result"] for r in rows if r["scenario"] == s and r["broker"] == b]
        if not rs: continue
        rate = [x["confirmRate"] if x["options"]["confirms"] else x["consumeRate"] for x in rs]
        m = med(rate)
        if b == "rabbitmq": base = m
        ratio = f"  {m / base:.2f}x" if base and b != "rabbitmq" else ""
        print(f"{s:9} {b:11} {', '.join(f'{x:,.0f}' for x in rate):30} {m:>8,.0f} {med([x.get('confirmP50Ms', 0) for x in rs]):>7.2f} "
              f"{med([x.get('confirmP99Ms', 0) for x in rs]):>7.2f} {max(x.get('confirmMaxMs', 0) for x in rs):>7.1f} "
              f"{med([x['latencyP99Ms'] for x in rs]):>8.2f} {med([x.get('brokerCpuUsPerMsg') or 0 for x in rs]):>7.1f} {sum(x['lost'] or 0 for x in rs)}{ratio}")
PY
