#!/usr/bin/env bash
# Failover figures for docs/benchmarks.md, on loopback only; everything it starts it stops.
# A prober (Broker.Bench probe) publishes one persistent message with a confirm every 10 ms through
# one survivor and consumes through the other, while the node that owns (leads) the probed queue
# is SIGKILLed (mode kill), frozen with SIGSTOP and resumed once the probe is over (stop), or, for
# this broker, SIGKILLed while it is also the oldest node, which hosts the shard coordinators
# (oldest: the probed queue is one that landed there). It reports the longest gap between
# confirmed publishes and between deliveries: how long the queue was out.
#   - this broker: 3 nodes over a throwaway PostgreSQL (the fence on, as by default);
#   - RabbitMQ (if ../shared/tools/rabbitmq-cluster exists): a quorum queue on its 3-node cluster
#     (frozen leaders get a 25 s probe: its election after a freeze takes several seconds).
# Usage: bench/failover.sh [runs]   (default 10 per mode; MODES="kill stop oldest", SKIP_RABBITMQ=1,
#        SKIP_BROKER=1, OUT=/tmp/broker-failover.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
MODES=${MODES:-kill stop oldest}
OUT=${OUT:-/tmp/broker-failover.jsonl}
NODE=src/Broker.Node/bin/Release/net10.0/Broker.Node.dll
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"
RMQC=${RMQC:-../shared/tools/rabbitmq-cluster}
# A confirm may take up to 2 s (RabbitMQ's client does not recover well from abandoning a publish
# much sooner); a nacked publish is retried at once, so the gap is still measured to ~10 ms.
PROBE=${PROBE:-"--interval-ms 10 --timeout-ms 2000"}
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null

WORK=$(mktemp -d /tmp/broker-failover-XXXX)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_PORT=55498
AMQP=(5721 5722 5723)
CLUSTER=(4081 4082 4083)
declare -a PIDS=(0 0 0)
RMQ=0

cleanup() {
  for p in "${PIDS[@]}"; do [ "$p" != 0 ] && { kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; } || true; done
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  if [ $RMQ = 1 ]; then
    for n in 1 2 3; do p=$("$RMQC" pid $n 2>/dev/null) && kill -CONT "$p" 2>/dev/null || true; done
    "$RMQC" stop >/dev/null 2>&1 || true
  fi
  [ "${KEEP:-0}" = 1 ] && echo "logs kept in $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
: > "$OUT"

record() { # broker mode run victim probe-json
  echo "{\"broker\":\"$1\",\"mode\":\"$2\",\"run\":$3,\"victim\":\"$4\",\"result\":$5}" >> "$OUT"
  echo "$1 $2 run $3 ($4): $5"
}

# ---- this broker -------------------------------------------------------------------------
start_node() { # $1 index
  local i=$1
  BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=${AMQP[$i]} BROKER_CLUSTER_PORT=${CLUSTER[$i]} BROKER_CLUSTER_SEEDS=$SEEDS \
  BROKER_NODE_NAME=n$((i + 1)) BROKER_JOURNAL_PROVIDER=postgresql BROKER_JOURNAL_CONNECTION="$CONN" \
  BROKER_DATA_DIR="$WORK/n$i" BROKER_LOG_LEVEL=INFO dotnet "$NODE" >>"$WORK/n$i.log" 2>&1 &
  PIDS[$i]=$!
}
wait_ready() { # $1 index, $2 how many "listening" lines the log must have
  for _ in $(seq 1 1200); do
    [ "$(grep -c 'broker: AMQP 0-9-1 listening' "$WORK/n$1.log")" -ge "${2:-1}" ] && return 0
    kill -0 "${PIDS[$1]}" 2>/dev/null || { tail -20 "$WORK/n$1.log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
owner_of() { # index of the node whose log last says it serves queue $1
  local best=-1 bestt="" i n t
  for i in 0 1 2; do
    n=$(grep -n -e "Queue '$1' in vhost '/' declared" -e "Recovered durable queue '$1'" "$WORK/n$i.log" | tail -1 | cut -d: -f1 || true)
    [ -n "$n" ] || continue
    t=$(sed -n "${n}p" "$WORK/n$i.log" | grep -o '[0-9:]*\.[0-9]*Z' | head -1)
    if [ "$best" = -1 ] || [[ "$t" > "$bestt" ]]; then best=$i; bestt=$t; fi
  done
  echo "$best"
}
oldest_node() { # index of the node that last took the queue coordinator over (the oldest member)
  local best=-1 bestt="" i t
  for i in 0 1 2; do
    t=$(grep -e 'Singleton manager started singleton actor \[akka://broker/system/sharding/queueCoordinator/singleton\]' "$WORK/n$i.log" \
      | tail -1 | grep -o '[0-9:]*\.[0-9]*Z' | head -1 || true)
    [ -n "$t" ] || continue
    if [ "$best" = -1 ] || [[ "$t" > "$bestt" ]]; then best=$i; bestt=$t; fi
  done
  echo "$best"
}
uri() { echo "amqp://guest:guest@127.0.0.1:$1/"; }

if [ "${SKIP_BROKER:-0}" != 1 ]; then
  chown postgres "$WORK"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres --no-sync >/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK" start >/dev/null
  psql -h 127.0.0.1 -p $PG_PORT -U postgres -qc "CREATE DATABASE broker"
  CONN="Host=127.0.0.1;Port=$PG_PORT;Database=broker;Username=postgres;Password=x"
  SEEDS="127.0.0.1:${CLUSTER[0]},127.0.0.1:${CLUSTER[1]},127.0.0.1:${CLUSTER[2]}"
  for i in 0 1 2; do start_node $i; done
  for i in 0 1 2; do wait_ready $i; done
  $BENCH fill --uri "$(uri ${AMQP[0]})" --queue probe-q --count 0 >/dev/null
  for mode in $MODES; do
    for r in $(seq "$RUNS"); do
      q=probe-q
      if [ "$mode" = oldest ]; then
        # A queue of this run that sharding placed on the oldest node.
        oldest=$(oldest_node); q=""
        for k in $(seq 1 12); do
          $BENCH fill --uri "$(uri ${AMQP[$(( (oldest + 1) % 3 ))]})" --queue "probe-o$r-$k" --count 0 >/dev/null
          if [ "$(owner_of "probe-o$r-$k")" = "$oldest" ]; then q="probe-o$r-$k"; break; fi
        done
        [ -n "$q" ] || { echo "no queue landed on the oldest node n$((oldest + 1))"; continue; }
      fi
      o=$(owner_of "$q")
      [ "$o" -ge 0 ] || { echo "cannot tell which node owns $q"; exit 1; }
      p=$(( (o + 1) % 3 )); c=$(( (o + 2) % 3 ))
      $BENCH probe --uri "$(uri ${AMQP[$p]})" --consumer-uri "$(uri ${AMQP[$c]})" --queue "$q" --duration 16 $PROBE \
        > "$WORK/probe.json" &
      probe=$!
      sleep 4
      ready=$(grep -c 'broker: AMQP 0-9-1 listening' "$WORK/n$o.log")
      if [ "$mode" = stop ]; then
        kill -STOP "${PIDS[$o]}"
      else
        kill -9 "${PIDS[$o]}"
        wait "${PIDS[$o]}" 2>/dev/null || true
      fi
      wait $probe || true
      if [ "$mode" = stop ]; then
        # Resumed after its queue moved: it must stop by itself (fenced or downed), not serve.
        kill -CONT "${PIDS[$o]}"
        status=0
        for _ in $(seq 1 150); do kill -0 "${PIDS[$o]}" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "${PIDS[$o]}" 2>/dev/null; then echo "n$((o + 1)) still runs 15 s after SIGCONT"; kill -9 "${PIDS[$o]}"; fi
        wait "${PIDS[$o]}" 2>/dev/null || status=$?
        echo "n$((o + 1)) exited with $status after SIGCONT"
      fi
      record broker "$mode" "$r" "n$((o + 1))" "$(tail -1 "$WORK/probe.json")"
      start_node "$o"
      wait_ready "$o" $((ready + 1))
      sleep 3
    done
  done
  for i in 0 1 2; do kill "${PIDS[$i]}" 2>/dev/null || true; wait "${PIDS[$i]}" 2>/dev/null || true; PIDS[$i]=0; done
fi

# ---- RabbitMQ quorum queue ----------------------------------------------------------------
if [ "${SKIP_RABBITMQ:-0}" != 1 ] && [ -x "$RMQC" ]; then
  "$RMQC" start >/dev/null && RMQ=1
  leader() { # node number (1..3) leading quorum queue $1
    runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -n r1@localhost -q \
      list_queues name leader 2>/dev/null | awk -v q="$1" '$1 == q { sub(/^r/, "", $2); sub(/@.*/, "", $2); print $2 }'
  }
  for _ in $(seq 1 10); do # declares the quorum queue (the cluster may still be settling)
    $BENCH probe --uri "amqp://guest:guest@127.0.0.1:5681/" --consumer-uri "amqp://guest:guest@127.0.0.1:5682/" \
      --queue probe-qq --queue-type quorum --duration 1 >/dev/null 2>&1 && break
    sleep 3
  done
  for mode in $MODES; do
    [ "$mode" = oldest ] && continue # its queues have no coordinator to lose
    for r in $(seq "$RUNS"); do
      l=$(leader probe-qq)
      [ -n "$l" ] || { echo "cannot tell which RabbitMQ node leads probe-qq"; exit 1; }
      p=$(( l % 3 + 1 )); c=$(( (l + 1) % 3 + 1 ))
      $BENCH probe --uri "amqp://guest:guest@127.0.0.1:$((5680 + p))/" --consumer-uri "amqp://guest:guest@127.0.0.1:$((5680 + c))/" \
        --queue probe-qq --duration "$([ "$mode" = stop ] && echo 25 || echo 16)" $PROBE > "$WORK/probe.json" &
      probe=$!
      sleep 4
      pid=$("$RMQC" pid "$l")
      if [ "$mode" = kill ]; then kill -9 "$pid"; else kill -STOP "$pid"; fi
      wait $probe || true
      if [ "$mode" = stop ]; then kill -CONT "$pid"; else "$RMQC" start-node "$l" >/dev/null; fi
      record rabbitmq "$mode" "$r" "r$l" "$(tail -1 "$WORK/probe.json")"
      # The restarted member must catch up before the next run, or that run's kill leaves no quorum.
      if [ "$mode" = stop ]; then sleep 8; else sleep 20; fi
    done
  done
fi

python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'broker':9} {'mode':6} {'runs':>4} {'publish: median':>16} {'max':>6} {'consume: median':>16} {'max':>6}  lost confirmed")
for b in ["broker", "rabbitmq"]:
    for m in ["kill", "oldest", "stop"]:
        rs = [r["result"] for r in rows if r["broker"] == b and r["mode"] == m]
        if not rs: continue
        c = [x["maxConfirmGapS"] for x in rs]; d = [x["maxDeliveryGapS"] for x in rs]
        print(f"{b:9} {m:6} {len(rs):>4} {st.median(c):>15.2f}s {max(c):>5.2f}s {st.median(d):>15.2f}s {max(d):>5.2f}s  "
              f"{sum(x['lostConfirmed'] for x in rs)}")
PY
