#!/usr/bin/env bash
# Runs the same load-generator commands against two builds of this broker (say main and a branch),
# alternating them run by run, each run on a freshly started node with a fresh data directory, and
# prints every run plus the medians. For changes on the hot path: both builds see the same machine.
# Usage: bench/ab.sh OLD_DIR NEW_DIR [runs]   (default 3)
#   OLD_DIR, NEW_DIR: folders holding Broker.Node.dll (src/Broker.Node/bin/Release/net10.0 of each
#   checkout, built with `dotnet build -c Release src/Broker.Node`).
#   ORDER="a_1p1c b_4p4c c_persistent" picks scenarios; PORT (5680), OUT (/tmp/broker-ab.jsonl).
# Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1
NEW=$2
RUNS=${3:-3}
PORT=${PORT:-5680}
OUT=${OUT:-/tmp/broker-ab.jsonl}
dotnet build -c Release bench/Broker.Bench -v q >/dev/null
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"
declare -A DIRS=([old]=$OLD [new]=$NEW)
declare -A SCEN=(
  [a_1p1c]="--producers 1 --consumers 1 --queues 1 --size 1024 --prefetch 1000 --duration 10"
  [b_4p4c]="--producers 4 --consumers 4 --queues 4 --size 1024 --prefetch 1000 --duration 10"
  [c_persistent]="--persistent --confirms 1000 --producers 1 --consumers 1 --size 1024 --duration 10"
)
NODE=
DATA=
trap '[ -n "$NODE" ] && kill -TERM $NODE 2>/dev/null; wait 2>/dev/null; [ -n "$DATA" ] && rm -rf "$DATA" "$DATA.log"' EXIT
: > "$OUT"
for s in ${ORDER:-a_1p1c b_4p4c c_persistent}; do
  for r in $(seq "$RUNS"); do
    for b in old new; do
      DATA=$(mktemp -d /tmp/broker-ab-XXXX)
      BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=$PORT BROKER_DATA_DIR=$DATA BROKER_LOG_LEVEL=WARNING \
        dotnet "${DIRS[$b]}/Broker.Node.dll" >"$DATA.log" 2>&1 &
      NODE=$!
      for _ in $(seq 150); do grep -q "listening" "$DATA.log" && break; sleep 0.1; done
      line=$($BENCH --uri "amqp://guest:guest@127.0.0.1:$PORT/" ${SCEN[$s]} --broker-pid $NODE --json 2>/dev/null | tail -1 || true)
      echo "{\"scenario\":\"$s\",\"build\":\"$b\",\"run\":$r,\"result\":${line:-null}}" >> "$OUT"
      kill -TERM $NODE; wait $NODE 2>/dev/null || true
      NODE=
      rm -rf "$DATA" "$DATA.log"
      DATA=
    done
  done
done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'scenario':14} {'build':5} {'runs (consume msg/s)':44} {'median':>8} {'p50 ms':>8} {'p99 ms':>8} {'us/msg':>7} lost dup")
for s in dict.fromkeys(r["scenario"] for r in rows):
    for b in ["old", "new"]:
        rs = [r["result"] for r in rows if r["scenario"] == s and r["build"] == b and r["result"]]
        if not rs:
            continue
        c = [x["consumeRate"] for x in rs]
        print(f"{s:14} {b:5} {', '.join(f'{x:,.0f}' for x in c):44} {st.median(c):>8,.0f} {st.median([x['latencyP50Ms'] for x in rs]):>8.1f} "
              f"{st.median([x['latencyP99Ms'] for x in rs]):>8.1f} {st.median([x.get('brokerCpuUsPerMsg', float('nan')) for x in rs]):>7.1f} "
              f"{sum(x['lost'] for x in rs)} {sum(x['duplicates'] for x in rs)}")
PY
