#!/usr/bin/env bash
# Measures how long a node takes to restart (recover) with 0, 100k and 1M persistent 1 KiB
# messages queued: until its AMQP listener is up, and until a consumer started with the node (bench
# `first` mode, retrying its connection every 20 ms) gets the first message; and the size of its
# data directory. Loopback only; everything it starts it stops.
# Usage: [KILL=1] [IDLE_QUEUES=K] [R2R=1] bench/restart-times.sh [counts...]   (default: 0 100000 1000000)
#   KILL=1         stop the filled node with SIGKILL instead of SIGTERM
#   IDLE_QUEUES=K  also declare K empty durable queues, which the restart has to recover too
#   R2R=1          run the node published ReadyToRun (as deploy/ would ship it: precompiled, less
#                  JIT at start) instead of the JIT-compiled Release build
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-5690}
NODE=src/Broker.Node/bin/Release/net10.0/Broker.Node.dll
BENCH=bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll
if [ "${R2R:-0}" = 1 ]; then
  NODE=bench/.r2r/Broker.Node.dll
  dotnet publish -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true src/Broker.Node -o bench/.r2r -v q >/dev/null
else
  dotnet build -c Release src/Broker.Node -v q >/dev/null
fi
dotnet build -c Release bench/Broker.Bench -v q >/dev/null
KILL=${KILL:-0}
IDLE_QUEUES=${IDLE_QUEUES:-0}
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(0 100000 1000000)

start_node() { # $1 data dir, $2 log; prints seconds until the listener is up
  local t0; t0=$(date +%s.%N)
  BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=$PORT BROKER_DATA_DIR=$1 dotnet "$NODE" >"$2" 2>&1 &
  echo $! > "$1.pid"
  for _ in $(seq 1 1200); do
    grep -q "broker: AMQP 0-9-1 listening" "$2" && { echo "$(date +%s.%N) - $t0" | bc; return 0; }
    kill -0 "$(cat "$1.pid")" 2>/dev/null || { cat "$2" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
stop_node() { kill "-${2:-TERM}" "$(cat "$1.pid")"; wait "$(cat "$1.pid")" 2>/dev/null || true; }

printf '%-10s %-12s %-12s %-26s %-10s %s\n' messages fill_s restart_s first_consumer data_dir recovered
for n in "${counts[@]}"; do
  dir=$(mktemp -d /tmp/broker-restart-XXXX)
  start_node "$dir" "$dir.log1" >/dev/null
  fill=$( { /usr/bin/time -f %e dotnet "$BENCH" fill --uri "amqp://guest:guest@127.0.0.1:$PORT/" --queue restart-q --count "$n" --idle-queues "$IDLE_QUEUES" >/dev/null; } 2>&1 | tail -1)
  if [ "$KILL" = 1 ]; then stop_node "$dir" KILL; else stop_node "$dir"; fi
  since=$(date +%s.%N)
  [ "$n" -gt 0 ] && timeout 300 dotnet "$BENCH" first --uri "amqp://guest:guest@127.0.0.1:$PORT/" --queue restart-q --since "$since" >"$dir.first" 2>&1 &
  restart=$(start_node "$dir" "$dir.log2")
  wait
  first=$(sed -n 's/^first: //p' "$dir.first" 2>/dev/null || true)
  recovered=$(grep -o "Recovered [0-9]* durable exchange(s) and [0-9]* durable queue(s) in [0-9.]* s" "$dir.log2" | head -1)
  size=$(du -sh "$dir" | cut -f1)
  stop_node "$dir"
  printf '%-10s %-12s %-12s %-26s %-10s %s\n' "$n" "$fill" "$restart" "${first:--}" "$size" "$recovered"
  rm -rf "$dir" "$dir".*
done
