#!/usr/bin/env bash
# Resident memory of a node holding a backlog: starts a throwaway node, fills one queue with N
# messages of S bytes (confirmed), waits until its RSS settles and prints it, the same for
# RabbitMQ when RMQ_PORT names a running one (its own figure from /api/nodes, mem_used).
# Loopback only; stops only the node it started.
# Usage: bench/memory.sh [transient|persistent] [count] [size]   (default: transient 1000000 100)
#   DRAIN=1: then one consumer drains the backlog (Broker.Bench drain) and its rate is printed;
#   BROKER_QUEUE_MEMORY_BUDGET=0 in the environment turns paging off for a comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-transient}; COUNT=${2:-1000000}; SIZE=${3:-100}
PORT=${PORT:-5695}; RMQ_PORT=${RMQ_PORT:-}; RMQ_MGMT=${RMQ_MGMT:-15672}
NODE=src/Broker.Node/bin/Release/net10.0/Broker.Node.dll
BENCH=bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null
FLAG=""; [ "$MODE" = transient ] && FLAG="--transient"

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
settle() { # $1 pid: waits until RSS changes by < 1 MB over 3 s (at most 60 s), prints it
  local prev=0 now
  for _ in $(seq 1 20); do now=$(rss_mb "$1"); [ $((now - prev)) -lt 1 ] && [ $((prev - now)) -lt 1 ] && break; prev=$now; sleep 3; done
  echo "$now"
}

dir=$(mktemp -d /tmp/broker-memory-XXXX)
BROKER_MANAGEMENT_PORT=off BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=$PORT BROKER_DATA_DIR=$dir dotnet "$NODE" >"$dir.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir" "$dir.log"' EXIT
for _ in $(seq 1 600); do grep -q "broker: AMQP 0-9-1 listening" "$dir.log" && break; sleep 0.1; done
idle=$(settle $pid)
dotnet "$BENCH" fill --uri "amqp://guest:guest@127.0.0.1:$PORT/" --queue memory-q --count "$COUNT" --size "$SIZE" $FLAG
full=$(settle $pid)
echo "broker:   $MODE $COUNT x $SIZE B: RSS idle $idle MB, with the backlog $full MB ($(( (full - idle) * 1048576 / COUNT )) B per message)"
if [ "${DRAIN:-0}" = 1 ]; then
  dotnet "$BENCH" drain --uri "amqp://guest:guest@127.0.0.1:$PORT/" --queue memory-q
fi
if [ -n "$RMQ_PORT" ]; then
  rmq() { curl -s -u guest:guest "http://127.0.0.1:$RMQ_MGMT/api/nodes" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)[0]["mem_used"]/1048576))'; }
  curl -s -u guest:guest -X DELETE "http://127.0.0.1:$RMQ_MGMT/api/queues/%2F/memory-q" >/dev/null || true
  before=$(rmq)
  dotnet "$BENCH" fill --uri "amqp://guest:guest@127.0.0.1:$RMQ_PORT/" --queue memory-q --count "$COUNT" --size "$SIZE" $FLAG
  sleep 5; after=$(rmq)
  curl -s -u guest:guest -X DELETE "http://127.0.0.1:$RMQ_MGMT/api/queues/%2F/memory-q" >/dev/null || true
  echo "rabbitmq: $MODE $COUNT x $SIZE B: memory idle $before MB, with the backlog $after MB"
fi
