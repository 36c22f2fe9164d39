#!/usr/bin/env bash
# What watching the broker costs: transient 1p1c (1 KiB) with nobody polling the management API,
# then with the API polled every second the way the web UI does (overview, queues, connections,
# channels, plus /metrics), alternating run by run; prints every run, the medians and the ratio.
# Starts this broker on $PORT (management on $MGMT_PORT) with a fresh data directory. Loopback only.
# Usage: bench/management.sh [runs]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PORT=${PORT:-5680}
MGMT_PORT=${MGMT_PORT:-15680}
dotnet build -c Release src/Broker.Node -v q >/dev/null
dotnet build -c Release bench/Broker.Bench -v q >/dev/null
BENCH="dotnet bench/Broker.Bench/bin/Release/net10.0/Broker.Bench.dll"
DATA=$(mktemp -d /tmp/broker-mgmt-XXXX)
BROKER_MANAGEMENT_PORT=$MGMT_PORT BROKER_PROMETHEUS_PORT=off BROKER_AMQP_PORT=$PORT BROKER_DATA_DIR=$DATA BROKER_LOG_LEVEL=WARNING \
  dotnet src/Broker.Node/bin/Release/net10.0/Broker.Node.dll >"$DATA.log" 2>&1 &
NODE_PID=$!
POLL_PID=
trap 'kill $POLL_PID 2>/dev/null || true; kill -TERM $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; rm -rf "$DATA" "$DATA.log"' EXIT
for _ in $(seq 100); do grep -q "management UI" "$DATA.log" && break; sleep 0.1; done

# Polls like an open browser tab plus a Prometheus scrape, once a second, for at most $1 seconds,
# from one light process with a kept-alive connection (so the poller's own CPU stays small).
poll() {
  # exec: the background job's PID is the poller's own, so killing it stops the polling.
  exec /usr/bin/python3 - "$MGMT_PORT" "$1" <<'PY'
import base64, http.client, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
auth = {"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
end = time.monotonic() + seconds
while time.monotonic() < end:
    started = time.monotonic()
    for path in ("/api/overview", "/api/queues", "/api/connections", "/api/channels", "/metrics"):
        conn.request("GET", path, headers=auth)
        conn.getresponse().read()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
PY
}

ONE="--producers 1 --consumers 1 --queues 1 --size 1024 --prefetch 1000 --duration 10 --json"
printf '%-8s %-8s %12s %9s %9s %13s\n' run mode "consume/s" "p50 ms" "p99 ms" "broker us/msg"
declare -a QUIET=() POLLED=() QUIET_CPU=() POLLED_CPU=()
for r in $(seq "$RUNS"); do
  for mode in quiet polled; do
    if [ $mode = polled ]; then poll 20 & POLL_PID=$!; fi
    line=$($BENCH --uri "amqp://guest:guest@127.0.0.1:$PORT/" $ONE --broker-pid "$NODE_PID" 2>/dev/null | tail -1)
    if [ $mode = polled ]; then kill $POLL_PID 2>/dev/null || true; wait $POLL_PID 2>/dev/null || true; POLL_PID=; fi
    rate=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(round(d["consumeRate"]))' "$line")
    p50=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["latencyP50Ms"])' "$line")
    p99=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["latencyP99Ms"])' "$line")
    cpu=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["brokerCpuUsPerMsg"])' "$line")
    printf '%-8s %-8s %12s %9s %9s %13s\n' "$r" "$mode" "$rate" "$p50" "$p99" "$cpu"
    if [ $mode = quiet ]; then QUIET+=("$rate"); QUIET_CPU+=("$cpu"); else POLLED+=("$rate"); POLLED_CPU+=("$cpu"); fi
  done
done
python3 - "${QUIET[*]}" "${POLLED[*]}" "${QUIET_CPU[*]}" "${POLLED_CPU[*]}" <<'PY'
import statistics as st, sys
q, p, qc, pc = ([float(x) for x in a.split()] for a in sys.argv[1:5])
mq, mp, mqc, mpc = st.median(q), st.median(p), st.median(qc), st.median(pc)
print(f"median consume msg/s: quiet {mq:.0f}, polled every second {mp:.0f} -> polled/quiet {mp/mq:.3f} ({(1-mp/mq)*100:+.1f}% slower)")
print(f"median broker CPU per message: quiet {mqc:.2f} us, polled {mpc:.2f} us ({(mpc/mqc-1)*100:+.1f}%)")
PY
