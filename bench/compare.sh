#!/usr/bin/env bash
# Runs the same load-generator commands against RabbitMQ and this broker on the same machine,
# alternating them run by run, and prints every run plus the medians and the ratio.
# Needs RabbitMQ on 127.0.0.1:5672 (../shared/tools/rabbitmq-local start). Starts this broker on
# $PORT with a fresh data directory and stops it at the end. Loopback only.
# Usage: bench/compare.sh [runs]   (default 3)
#        SET=features bench/compare.sh [runs]   the cost of queue features on transient 1p1c:
#        no arguments, x-message-ttl, x-max-priority (messages at priority 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PORT=${PORT:-5680}
OUT=${OUT:-/tmp/broker-compare.jsonl}
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"
RMQ_PID=$(pgrep -f 'beam.smp.*rabbit' | head -1 || true)
[ -n "$RMQ_PID" ] || { echo "RabbitMQ is not running on 5672"; exit 1; }

DATA=$(mktemp -d /tmp/broker-compare-XXXX)
BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=$PORT BROKER_DATA_DIR=$DATA BROKER_LOG_LEVEL=WARNING \
  dotnet src/Broker.Node/bin/Release/net10.0/Broker.Node.dll >"$DATA.log" 2>&1 &
NODE_PID=$!
trap 'kill -TERM $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 100); do grep -q "listening" "$DATA.log" && break; sleep 0.1; done

ONE="--producers 1 --consumers 1 --queues 1 --size 1024 --prefetch 1000 --duration 10"
if [ "${SET:-}" = features ]; then
  declare -A SCEN=(
    [plain]="$ONE"
    [ttl]="$ONE --queue-arg x-message-ttl=60000"
    [priority]="$ONE --queue-arg x-max-priority=10 --priority 5"
  )
  ORDER="plain ttl priority"
else
  declare -A SCEN=(
    [a_1p1c]="$ONE"
    [b_4p4c]="--producers 4 --consumers 4 --queues 4 --size 1024 --prefetch 1000 --duration 10"
    [c_persistent]="--persistent --confirms 1000 --producers 1 --consumers 1 --size 1024 --duration 10"
    [d_rate5000]="$ONE --rate 5000"
  )
  ORDER="a_1p1c b_4p4c c_persistent d_rate5000"
fi
: > "$OUT"
for s in $ORDER; do
  for r in $(seq "$RUNS"); do
    for b in rabbitmq broker; do
      if [ $b = rabbitmq ]; then uri="amqp://guest:guest@127.0.0.1:5672/"; pid=$RMQ_PID; else uri="amqp://guest:guest@127.0.0.1:$PORT/"; pid=$NODE_PID; fi
      line=$($BENCH --uri "$uri" ${SCEN[$s]} --broker-pid "$pid" --json 2>/dev/null | tail -1 || true)
      echo "{\"scenario\":\"$s\",\"broker\":\"$b\",\"run\":$r,\"result\":$line}" >> "$OUT"
    done
  done
done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(xs): return st.median(xs) if xs else float('nan')
print(f"{'scenario':14} {'broker':9} {'runs (consume msg/s)':36} {'median':>8} {'p50 ms':>8} {'p99 ms':>8} {'us/msg':>7} lost dup")
meds = {}
for s in dict.fromkeys(r["scenario"] for r in rows):
    for b in ["rabbitmq", "broker"]:
        rs = [r["result"] for r in rows if r["scenario"] == s and r["broker"] == b]
        c = [x["consumeRate"] for x in rs]
        meds[(s, b)] = med(c)
        print(f"{s:14} {b:9} {', '.join(f'{x:,.0f}' for x in c):36} {med(c):>8,.0f} {med([x['latencyP50Ms'] for x in rs]):>8.1f} "
              f"{med([x['latencyP99Ms'] for x in rs]):>8.1f} {med([x.get('brokerCpuUsPerMsg', float('nan')) for x in rs]):>7.1f} "
              f"{sum(x['lost'] for x in rs)} {sum(x['duplicates'] for x in rs)}")
    print(f"{s:14} ratio broker/rabbitmq (median consume): {meds[(s,'broker')]/meds[(s,'rabbitmq')]:.2f}x")
PY
