#!/usr/bin/env bash
# Transient 1p1c over amqps next to RabbitMQ over amqps, with the same certificate and key, on
# this machine, alternating run by run; plain AMQP runs alongside for the cost of TLS itself.
# Makes a throwaway CA and server certificate with openssl, gives RabbitMQ an amqps listener on
# 127.0.0.1:5671 (a conf.d file, removed at the end) and restarts it with
# ../shared/tools/rabbitmq-local, starts this broker with amqps on $TLS_PORT. Loopback only.
# Usage: bench/tls.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PORT=${PORT:-5680}
TLS_PORT=${TLS_PORT:-5681}
TOOLS=${TOOLS:-../shared/tools}
OUT=${OUT:-/tmp/broker-tls.jsonl}
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"

CERTS=$(mktemp -d /tmp/broker-tls-certs-XXXX)
chmod 755 "$CERTS"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout "$CERTS/ca-key.pem" -out "$CERTS/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$CERTS/server-key.pem" -out "$CERTS/server.csr" 2>/dev/null
openssl x509 -req -in "$CERTS/server.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1') -out "$CERTS/server.pem" 2>/dev/null
chmod 644 "$CERTS"/*.pem

CONF=/etc/rabbitmq/conf.d/90-broker-bench-tls.conf
mkdir -p /etc/rabbitmq/conf.d
cat > "$CONF" <<CONF
listeners.ssl.default = 127.0.0.1:5671
ssl_options.cacertfile = $CERTS/ca.pem
ssl_options.certfile = $CERTS/server.pem
ssl_options.keyfile = $CERTS/server-key.pem
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
CONF
"$TOOLS/rabbitmq-local" stop >/dev/null 2>&1 || true
"$TOOLS/rabbitmq-local" start
for _ in $(seq 60); do ss -ltn | grep -q "127.0.0.1:5671 " && break; sleep 1; done
RMQ_PID=$(pgrep -f 'beam.smp.*rabbit' | head -1)

DATA=$(mktemp -d /tmp/broker-tls-XXXX)
BROKER_MANAGEMENT_PORT=0 BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=$PORT BROKER_AMQPS_PORT=$TLS_PORT BROKER_TLS_CERT=$CERTS/server.pem BROKER_TLS_KEY=$CERTS/server-key.pem \
  BROKER_DATA_DIR=$DATA BROKER_LOG_LEVEL=WARNING dotnet src/Broker.Node/bin/Release/net10.0/Broker.Node.dll >"$DATA.log" 2>&1 &
NODE_PID=$!
cleanup() {
  kill -TERM $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null || true
  rm -f "$CONF"; "$TOOLS/rabbitmq-local" stop >/dev/null 2>&1 || true
  rm -rf "$DATA" "$DATA.log" "$CERTS"
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q "listening" "$DATA.log" && break; sleep 0.1; done

ONE="--producers 1 --consumers 1 --queues 1 --size 1024 --prefetch 1000 --duration 10 --tls-ca $CERTS/ca.pem"
: > "$OUT"
for r in $(seq "$RUNS"); do
  for s in amqps amqp; do
    for b in rabbitmq broker; do
      if [ $b = rabbitmq ]; then pid=$RMQ_PID; port=5672; tport=5671; else pid=$NODE_PID; port=$PORT; tport=$TLS_PORT; fi
      if [ $s = amqps ]; then uri="amqps://guest:guest@127.0.0.1:$tport/"; else uri="amqp://guest:guest@127.0.0.1:$port/"; fi
      line=$($BENCH --uri "$uri" $ONE --broker-pid "$pid" --json 2>/dev/null | tail -1 || true)
      echo "{\"scenario\":\"$s\",\"broker\":\"$b\",\"run\":$r,\"result\":$line}" >> "$OUT"
    done
  done
done
python3 - "$OUT" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else float("nan")
print(f"{'transport':9} {'broker':9} {'runs (consume msg/s)':36} {'median':>8} {'p50 ms':>8} {'p99 ms':>8} {'us/msg':>7} lost dup")
meds = {}
for s in ("amqps", "amqp"):
    for b in ("rabbitmq", "broker"):
        rs = [r["result"] for r in rows if r["scenario"] == s and r["broker"] == b and isinstance(r["result"], dict)]
        c = [x["consumeRate"] for x in rs]
        meds[(s, b)] = med(c)
        print(f"{s:9} {b:9} {', '.join(f'{x:,.0f}' for x in c):36} {med(c):>8,.0f} {med([x['latencyP50Ms'] for x in rs]):>8.1f} "
              f"{med([x['latencyP99Ms'] for x in rs]):>8.1f} {med([x.get('brokerCpuUsPerMsg') for x in rs]):>7.1f} "
              f"{sum(x['lost'] for x in rs)} {sum(x['duplicates'] for x in rs)}")
for s in ("amqps", "amqp"):
    print(f"{s}: broker/rabbitmq (median consume) {meds[(s, 'broker')] / meds[(s, 'rabbitmq')]:.2f}x")
print(f"TLS keeps {meds[('amqps', 'broker')] / meds[('amqp', 'broker')]:.2f} of plain throughput here, "
      f"{meds[('amqps', 'rabbitmq')] / meds[('amqp', 'rabbitmq')]:.2f} in RabbitMQ")
PY
