#!/usr/bin/env bash
# Smoke test of the docker-compose cluster (docker-compose.yml at the repository root):
#   1. builds local stand-in base images (shared/tools/docker-local-images) when that tool is there
#   2. docker-compose up -d --build: postgres + broker1..3
#   3. waits until the three AMQP ports accept connections and every node printed its ready line
#   4. declares a durable queue through node 1, publishes N persistent messages with confirms
#      through node 2, SIGKILLs the node that owns the queue, consumes through a survivor and
#      checks that every confirmed message arrives (duplicates are allowed and reported)
#   3b. checks every node's management API lists the 3 nodes, and (SMOKE_MONITORING, default on)
#      that the optional Prometheus (--profile monitoring) scrapes all three
#   5. declares a dozen more durable queues through a survivor, adds broker4 (docker-compose --profile scale up -d
#      broker4), waits until it is healthy and until some queues moved onto it
# Ends with "SMOKE OK", or "SMOKE FAILED: <why>" and a non-zero exit. Always tears the stack down
# (docker-compose down -v) unless SMOKE_KEEP=1.
#
# Environment (all optional):
#   DOCKER_LOCAL_IMAGES   path of the stand-in image tool, or "none" to use the official images
#                         (default: ../../shared/tools/docker-local-images from this script, if present)
#   SMOKE_MESSAGES        messages to publish (2000)
#   SMOKE_WAIT            seconds to wait for the cluster / broker4 to come up (300)
#   SMOKE_BUILD_TIMEOUT   seconds for `up --build` (1800)
#   SMOKE_PYTHON          a python3 that has pika
#   SMOKE_KEEP=1          leave the stack running at the end
#   SMOKE_MONITORING=0    skip the Prometheus step (docker-compose --profile monitoring)
#   SMOKE_LOG_DIR         where the containers' logs are saved before teardown (/tmp/broker-smoke-logs)
#   COMPOSE_PROJECT_NAME  (brokersmoke)
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$DEPLOY_DIR/.." && pwd)
cd "$REPO"

N=${SMOKE_MESSAGES:-2000}
SPREAD=${SMOKE_SPREAD_QUEUES:-12}
WAIT=${SMOKE_WAIT:-300}
BUILD_TIMEOUT=${SMOKE_BUILD_TIMEOUT:-1800}
LOG_DIR=${SMOKE_LOG_DIR:-/tmp/broker-smoke-logs}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-brokersmoke}
NODES=(broker1 broker2 broker3)
declare -A PORT=([broker1]=5672 [broker2]=5673 [broker3]=5674 [broker4]=5675)
READY_LINE='broker: AMQP 0-9-1 listening on'
WORK=$(mktemp -d /tmp/broker-smoke.XXXX)
STEP="start"
FAIL_REASON=""
STARTED_STACK=0

say() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
step() { STEP=$*; say "== $*"; }
fail() { FAIL_REASON=$*; exit 1; }

if command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose -f "$REPO/docker-compose.yml")
else
  COMPOSE=(docker compose -f "$REPO/docker-compose.yml")
fi
compose() { "${COMPOSE[@]}" "$@"; }

cid_of() { compose ps -q "$1" 2>/dev/null | head -1; }
logs_of() { local c; c=$(cid_of "$1"); [ -n "$c" ] && docker logs "$c" 2>&1 || true; }
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
# A published port accepts connections as soon as docker's proxy listens, broker or not: this sends
# the AMQP 0-9-1 protocol header and wants the first byte of connection.start (frame type 1) back.
amqp_answers() {
  local b
  b=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'AMQP\\000\\000\\011\\001' >&3 && head -c 1 <&3 | od -An -tx1" 2>/dev/null) || return 1
  [ "${b// /}" = 01 ]
}
node_ready() { logs_of "$1" | grep -qF "$READY_LINE"; }
health_of() { local c; c=$(cid_of "$1"); [ -n "$c" ] && docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c" 2>/dev/null || echo missing; }

# The number of nodes that are members of the cluster. For now: the nodes whose log has the ready
# line (a node with seeds prints it once it is up). Change this when the broker logs membership.
cluster_member_count() {
  local n=0 s
  for s in "$@"; do node_ready "$s" && n=$((n + 1)); done
  echo "$n"
}

# The compose service whose node hosts queue $1, or nothing if the logs do not tell. For now: the
# node whose log most recently says the queue started or was recovered. Change this when the
# broker reports queue homes (e.g. a management API or a log line naming the node).
owner_of_queue() {
  local q=$1 s line best="" best_ts=""
  for s in "${NODES[@]}"; do
    local c; c=$(cid_of "$s"); [ -n "$c" ] || continue
    # The node that serves a queue logs "Queue '<q>' in vhost '/' declared" or "Recovered durable queue '<q>'".
    line=$(docker logs -t "$c" 2>&1 | grep -F -e "Recovered durable queue '$q'" -e "Queue '$q' in vhost" | tail -1 || true)
    [ -n "$line" ] || continue
    local ts=${line%% *}
    if [ -z "$best_ts" ] || [[ "$ts" > "$best_ts" ]]; then best=$s; best_ts=$ts; fi
  done
  echo "$best"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls every 2 s.
wait_until() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 2
  done
  say "$what: after $((SECONDS - end + secs)) s"
}

json_field() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1]).get(sys.argv[1]))' "$1"; }

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ] && [ -z "$FAIL_REASON" ]; then
    FAIL_REASON="step '$STEP' failed (exit $rc)"
  fi
  if [ "$STARTED_STACK" = 1 ]; then
    mkdir -p "$LOG_DIR"
    local s
    for s in postgres "${NODES[@]}" broker4; do
      local c; c=$(cid_of "$s")
      [ -n "$c" ] && docker logs -t "$c" >"$LOG_DIR/$s.log" 2>&1
    done
    say "container logs saved in $LOG_DIR"
    if [ "$rc" -ne 0 ]; then
      for s in "${NODES[@]}" broker4; do
        [ -s "$LOG_DIR/$s.log" ] || continue
        say "--- last lines of $s ($(health_of "$s"))"
        tail -n 15 "$LOG_DIR/$s.log"
      done
    fi
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then
      say "SMOKE_KEEP=1: leaving the stack up (compose project $COMPOSE_PROJECT_NAME)"
    else
      say "tearing down: docker-compose --profile scale --profile monitoring down -v"
      compose --profile scale --profile monitoring down -v --remove-orphans >"$WORK/down.log" 2>&1 \
        || { say "down failed:"; tail -n 5 "$WORK/down.log"; }
    fi
  fi
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then
    echo "SMOKE OK"
  else
    echo "SMOKE FAILED: $FAIL_REASON"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'FAIL_REASON="interrupted during: $STEP"; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
step "checking prerequisites"
command -v docker >/dev/null || fail "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || fail "the docker daemon is not running (start dockerd)"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 \
  || fail "neither docker-compose nor 'docker compose' is available (apt-get install docker-compose)"

find_python() {
  local py
  for py in ${SMOKE_PYTHON:-} python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 && "$py" -c 'import pika' 2>/dev/null && { echo "$py"; return 0; }
  done
  return 1
}
if ! PY=$(find_python); then
  say "pika is missing: apt-get install python3-pika"
  command -v apt-get >/dev/null || fail "python3 pika is missing and apt-get is not available"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pika >/dev/null
  PY=$(find_python) || fail "python3-pika installed but no python3 can import pika"
fi
say "python: $PY (pika $("$PY" -c 'import pika; print(pika.__version__)'))"
CLIENT=("$PY" "$DEPLOY_DIR/smoke_client.py")

# ---------------------------------------------------------------------------------------------
step "base images"
TOOL=${DOCKER_LOCAL_IMAGES:-}
if [ -z "$TOOL" ] && [ -f "$(dirname "$0")/../../shared/tools/docker-local-images" ]; then
  TOOL="$(dirname "$0")/../../shared/tools/docker-local-images"
fi
if [ -n "$TOOL" ] && [ "$TOOL" != none ]; then
  [ -f "$TOOL" ] || fail "DOCKER_LOCAL_IMAGES=$TOOL does not exist"
  say "building local stand-in images with $TOOL"
  bash "$TOOL" >"$WORK/local-images.log" 2>&1 || { tail -n 20 "$WORK/local-images.log"; fail "docker-local-images failed"; }
  export SDK_IMAGE=broker-local/dotnet-sdk:10.0 RUNTIME_IMAGE=broker-local/dotnet-aspnet:10.0 \
         POSTGRES_IMAGE=broker-local/postgres:15 PROMETHEUS_BASE_IMAGE=broker-local/debian:bookworm
else
  say "using the official base images"
fi
say "SDK_IMAGE=${SDK_IMAGE:-<default>} RUNTIME_IMAGE=${RUNTIME_IMAGE:-<default>} POSTGRES_IMAGE=${POSTGRES_IMAGE:-<default>} PROMETHEUS_BASE_IMAGE=${PROMETHEUS_BASE_IMAGE:-<default>}"

# ---------------------------------------------------------------------------------------------
step "starting the stack (compose project $COMPOSE_PROJECT_NAME): docker-compose up -d --build"
for s in "${NODES[@]}" broker4; do
  port_open "${PORT[$s]}" && fail "port ${PORT[$s]} on 127.0.0.1 is already in use (another broker or stack running?)"
done
STARTED_STACK=1
compose --profile scale --profile monitoring down -v --remove-orphans >/dev/null 2>&1 || true
start=$SECONDS
timeout "$BUILD_TIMEOUT" "${COMPOSE[@]}" up -d --build >"$WORK/up.log" 2>&1 || { tail -n 30 "$WORK/up.log"; fail "docker-compose up -d --build failed"; }
say "stack started in $((SECONDS - start)) s"
compose ps

# ---------------------------------------------------------------------------------------------
step "waiting (up to $WAIT s) for 3 AMQP ports and 3 cluster members"
ports_open() { local s; for s in "${NODES[@]}"; do amqp_answers "${PORT[$s]}" || return 1; done; }
three_members() { [ "$(cluster_member_count "${NODES[@]}")" -ge 3 ]; }
if ! wait_until "$WAIT" "AMQP ports 5672, 5673, 5674 answer the protocol header" ports_open; then
  for s in "${NODES[@]}"; do say "$s: port ${PORT[$s]} $(amqp_answers "${PORT[$s]}" && echo 'answers AMQP' || echo 'no AMQP answer'), $(health_of "$s")"; done
  fail "the AMQP ports did not answer within $WAIT s"
fi
if ! wait_until "$WAIT" "all 3 nodes logged '$READY_LINE'" three_members; then
  for s in "${NODES[@]}"; do say "$s: $(node_ready "$s" && echo ready || echo 'not ready'), $(health_of "$s")"; done
  fail "only $(cluster_member_count "${NODES[@]}") of 3 nodes became cluster members within $WAIT s"
fi
for s in "${NODES[@]}"; do say "$s: $(logs_of "$s" | grep -F "$READY_LINE" | tail -1)"; done

# ---------------------------------------------------------------------------------------------
step "management API on every node: each lists the 3 running nodes"
declare -A MGMT=([broker1]=15672 [broker2]=15673 [broker3]=15674)
three_running() {
  curl -sf -u broker:broker "http://127.0.0.1:${MGMT[$1]}/api/nodes" \
    | "$PY" -c 'import json,sys; sys.exit(0 if sum(1 for n in json.load(sys.stdin) if n.get("running")) == 3 else 1)'
}
for s in "${NODES[@]}"; do
  wait_until 60 "$s's API (127.0.0.1:${MGMT[$s]}) lists 3 running nodes" three_running "$s" || fail "$s's management API does not list 3 running nodes"
done

if [ "${SMOKE_MONITORING:-1}" = 1 ]; then
  step "Prometheus (docker-compose --profile monitoring up -d prometheus) scrapes the 3 nodes"
  timeout "$BUILD_TIMEOUT" "${COMPOSE[@]}" --profile monitoring up -d --build prometheus >"$WORK/prometheus.log" 2>&1 \
    || { tail -n 30 "$WORK/prometheus.log"; fail "starting Prometheus failed"; }
  targets_up() {
    curl -sf "http://127.0.0.1:9090/api/v1/targets" | "$PY" -c '
import json, sys
t = [x for x in json.load(sys.stdin)["data"]["activeTargets"] if x["labels"].get("job") == "broker" and x["health"] == "up"]
sys.exit(0 if len(t) >= 3 else 1)'
  }
  wait_until 120 "Prometheus has 3 broker targets up" targets_up || fail "Prometheus does not scrape the 3 nodes"
  curl -sf "http://127.0.0.1:9090/api/v1/query?query=count(rabbitmq_identity_info)" | grep -q '"3"' \
    || fail "Prometheus has no rabbitmq_identity_info of 3 nodes"
  say "Prometheus scrapes broker1..3 (rabbitmq_identity_info of 3 nodes)"
fi

# ---------------------------------------------------------------------------------------------
QUEUE="smoke-$(date +%s)-$$"
step "declaring durable queue '$QUEUE' through broker1 (127.0.0.1:5672)"
out=$(timeout 120 "${CLIENT[@]}" declare --port 5672 --queue "$QUEUE") || { echo "$out"; fail "queue.declare through broker1 failed"; }
echo "$out"

step "publishing $N persistent messages with confirms through broker2 (127.0.0.1:5673)"
rc=0
out=$(timeout 300 "${CLIENT[@]}" publish --port 5673 --queue "$QUEUE" --count "$N" --run "$QUEUE" \
  --confirmed-out "$WORK/confirmed.txt") || rc=$?
echo "$out"
confirmed=$(json_field confirmed <<<"$out" 2>/dev/null || echo 0)
[ "$confirmed" != None ] || confirmed=0
say "confirmed: $confirmed of $N"
[ "$confirmed" -gt 0 ] || fail "no message was confirmed (publish exit $rc)"
[ "$rc" -eq 0 ] || say "WARNING: the publisher reported a problem (exit $rc); checking the $confirmed confirmed messages"

# ---------------------------------------------------------------------------------------------
step "finding the node that owns '$QUEUE'"
owner=$(owner_of_queue "$QUEUE")
if [ -n "$owner" ]; then
  say "owner of '$QUEUE' (from the logs): $owner"
else
  owner=broker1
  say "the logs do not tell which node owns '$QUEUE': killing $owner"
fi
victim=$(cid_of "$owner")
[ -n "$victim" ] || fail "no container for $owner"

step "docker kill --signal KILL $owner"
docker kill --signal KILL "$victim" >/dev/null
killed_at=$SECONDS
survivors=()
for s in "${NODES[@]}"; do [ "$s" = "$owner" ] || survivors+=("${PORT[$s]}"); done
ports_csv=$(IFS=,; echo "${survivors[*]}")

step "consuming '$QUEUE' through a surviving node (ports $ports_csv; connection retried for 60 s)"
rc=0
out=$(timeout 400 "${CLIENT[@]}" --connect-timeout 60 consume --ports "$ports_csv" --queue "$QUEUE" \
  --expected "$WORK/confirmed.txt" --timeout 300) || rc=$?
echo "$out"
say "consume finished $((SECONDS - killed_at)) s after the kill"
missing=$(json_field missing <<<"$out" 2>/dev/null || echo "?")
dups=$(json_field duplicates <<<"$out" 2>/dev/null || echo "?")
unique=$(json_field unique <<<"$out" 2>/dev/null || echo "?")
say "received $unique of $confirmed confirmed messages; missing: $missing; duplicates: $dups"
[ "$rc" -eq 0 ] && [ "$missing" = 0 ] \
  || fail "messages lost after killing $owner: $missing of $confirmed confirmed missing ($(json_field error <<<"$out" 2>/dev/null || true))"
[ "$dups" = 0 ] || say "note: $dups duplicate deliveries (allowed: at-least-once after a crash)"

# ---------------------------------------------------------------------------------------------
# Through a node that is still up: the killed owner may have been any of the three.
step "declaring $SPREAD more durable queues through a surviving node (port ${survivors[0]}), for the new node to take a share of"
for i in $(seq 1 "$SPREAD"); do
  "${CLIENT[@]}" declare --port "${survivors[0]}" --queue "smoke-spread-$i" >/dev/null || fail "could not declare smoke-spread-$i"
done

step "adding a fourth node: docker-compose --profile scale up -d broker4"
compose --profile scale up -d broker4 >"$WORK/up4.log" 2>&1 || { tail -n 20 "$WORK/up4.log"; fail "could not start broker4"; }
broker4_healthy() { [ "$(health_of broker4)" = healthy ]; }
if ! wait_until "$WAIT" "broker4 is healthy" broker4_healthy; then
  fail "broker4 did not become healthy within $WAIT s (status: $(health_of broker4))"
fi
wait_until 60 "broker4 logged '$READY_LINE'" node_ready broker4 || fail "broker4 is healthy but never logged its ready line"
amqp_answers 5675 || fail "broker4's AMQP port 5675 does not answer"
say "broker4: $(logs_of broker4 | grep -F "$READY_LINE" | tail -1)"
# Queues move onto a joining node a few at a time (every 10 s rebalance round).
moved_to_broker4() { [ "$(logs_of broker4 | grep -c "Recovered durable queue 'smoke-")" -gt 0 ]; }
wait_until 120 "a queue moved to broker4" moved_to_broker4 || fail "no queue moved to broker4 within 120 s"
say "queues now on broker4: $(logs_of broker4 | grep -o "Recovered durable queue 'smoke-[^']*'" | sort -u | wc -l)"
step "done"
