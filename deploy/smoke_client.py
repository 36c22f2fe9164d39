#!/usr/bin/env python3
"""AMQP client for deploy/smoke.sh (needs pika: Debian's python3-pika).

  smoke_client.py declare --port 5672 --queue q
  smoke_client.py publish --port 5673 --queue q --count 2000 --confirmed-out ids.txt
  smoke_client.py consume --ports 5673,5674 --queue q --expected ids.txt

Each message body is JSON {"id": N, "run": "..."}; the id is also the message_id property.
Every subcommand prints one JSON line with its counts and exits non-zero on failure.
"""
import argparse
import json
import sys
import time

import pika
import pika.exceptions


def params(host, port, args, timeout=10):
    return pika.ConnectionParameters(
        host=host, port=port, virtual_host=args.vhost,
        credentials=pika.PlainCredentials(args.user, args.password),
        connection_attempts=1, socket_timeout=timeout, blocked_connection_timeout=60,
        heartbeat=30)


def out(obj, ok=True):
    print(json.dumps(obj), flush=True)
    return 0 if ok else 1


def connect_any(host, ports, args, deadline):
    """Connects to the first port that accepts, trying the list again until the deadline."""
    last = None
    while True:
        for port in ports:
            try:
                conn = pika.BlockingConnection(params(host, port, args))
                return conn, port
            except Exception as e:  # noqa: BLE001 - any failure means "try the next one"
                last = f"{port}: {e!r}"
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no node accepted a connection in time (last: {last})")
        time.sleep(1)


def cmd_declare(args):
    conn, port = connect_any(args.host, [args.port], args, time.monotonic() + args.connect_timeout)
    ch = conn.channel()
    r = ch.queue_declare(args.queue, durable=True)
    conn.close()
    return out({"op": "declare", "port": port, "queue": args.queue,
                "messages": r.method.message_count, "consumers": r.method.consumer_count})


def cmd_publish(args):
    """Publishes with confirms, up to --window unconfirmed at a time; records confirmed ids."""
    confirmed, nacked, returned = set(), set(), set()
    tag_to_id = {}
    state = {"next": 0, "tag": 0, "error": None, "done": False}
    run = args.run or str(int(time.time()))
    start = time.monotonic()

    def finish(conn, error=None):
        if error and not state["done"] and not state["error"]:
            state["error"] = error
        state["done"] = True
        if conn.is_open:
            conn.close()
        else:
            conn.ioloop.stop()

    def pump(ch):
        while state["next"] < args.count and len(tag_to_id) < args.window:
            i = state["next"]
            state["next"] += 1
            state["tag"] += 1
            tag_to_id[state["tag"]] = i
            ch.basic_publish(
                exchange="", routing_key=args.queue,
                body=json.dumps({"id": i, "run": run}).encode(),
                properties=pika.BasicProperties(delivery_mode=2, message_id=str(i)),
                mandatory=True)
        if state["next"] >= args.count and not tag_to_id:
            finish(ch.connection)

    def on_confirm(frame, ch):
        m = frame.method
        kind = type(m).__name__  # Ack or Nack
        tags = [t for t in tag_to_id if t <= m.delivery_tag] if m.multiple else [m.delivery_tag]
        for t in tags:
            i = tag_to_id.pop(t, None)
            if i is None:
                continue
            if kind == "Ack" and i not in returned:
                confirmed.add(i)
            else:
                nacked.add(i)
        pump(ch)

    def on_return(ch, method, props, body):
        try:
            returned.add(int(props.message_id))
        except (TypeError, ValueError):
            pass

    def on_channel(ch):
        ch.add_on_return_callback(on_return)
        ch.add_on_close_callback(lambda c, reason: finish(c.connection, f"channel closed: {reason}"))
        ch.confirm_delivery(lambda frame: on_confirm(frame, ch),
                            callback=lambda _: pump(ch))

    def on_open(conn):
        conn.channel(on_open_callback=on_channel)
        conn.ioloop.call_later(args.timeout, lambda: finish(conn, f"timed out after {args.timeout}s"))

    def on_close(conn, reason):
        if not state["done"] and not state["error"]:
            state["error"] = f"connection closed: {reason}"
        state["done"] = True
        conn.ioloop.stop()

    conn = pika.SelectConnection(
        params(args.host, args.port, args),
        on_open_callback=on_open,
        on_open_error_callback=lambda c, e: finish(c, f"could not connect: {e!r}"),
        on_close_callback=on_close)
    try:
        conn.ioloop.start()
    except KeyboardInterrupt:
        state["error"] = "interrupted"

    if args.confirmed_out:
        with open(args.confirmed_out, "w") as f:
            for i in sorted(confirmed):
                f.write(f"{i}\n")
    secs = time.monotonic() - start
    ok = state["error"] is None and len(confirmed) == args.count
    return out({"op": "publish", "port": args.port, "queue": args.queue, "sent": state["next"],
                "confirmed": len(confirmed), "nacked": len(nacked), "returned": len(returned),
                "unconfirmed": state["next"] - len(confirmed) - len(nacked),
                "seconds": round(secs, 2), "error": state["error"]}, ok)


def cmd_consume(args):
    expected = set()
    if args.expected:
        with open(args.expected) as f:
            expected = {int(line) for line in f if line.strip()}
    ports = [int(p) for p in args.ports.split(",") if p]
    seen, dups, foreign = set(), 0, 0
    received = 0
    reconnects = -1
    used_ports = []
    start = time.monotonic()
    deadline = start + args.timeout
    idle_since = None
    error = None

    while time.monotonic() < deadline:
        try:
            conn, port = connect_any(args.host, ports, args,
                                     min(deadline, time.monotonic() + args.connect_timeout))
        except TimeoutError as e:
            error = str(e)
            break
        reconnects += 1
        used_ports.append(port)
        try:
            ch = conn.channel()
            ch.basic_qos(prefetch_count=args.prefetch)
            for method, props, body in ch.consume(args.queue, inactivity_timeout=1):
                now = time.monotonic()
                if method is None:
                    if idle_since is None:
                        idle_since = now
                    # Everything expected is in and nothing more came for a while: done.
                    if expected <= seen and now - idle_since >= args.idle:
                        break
                    if now >= deadline:
                        break
                    continue
                idle_since = None
                received += 1
                try:
                    i = int(json.loads(body)["id"])
                except (ValueError, KeyError, TypeError):
                    foreign += 1
                    ch.basic_ack(method.delivery_tag)
                    continue
                if i in seen:
                    dups += 1
                seen.add(i)
                ch.basic_ack(method.delivery_tag)
            try:
                ch.cancel()
                conn.close()
            except Exception:  # noqa: BLE001
                pass
            break
        except (pika.exceptions.AMQPError, OSError) as e:
            error = f"{type(e).__name__}: {e} (on port {port}; reconnecting)"
            print(json.dumps({"op": "consume", "event": "connection lost", "error": error}),
                  file=sys.stderr, flush=True)
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
            time.sleep(1)
            continue

    missing = sorted(expected - seen)
    ok = not missing and (expected or seen)
    if ok:
        error = None
    return out({"op": "consume", "ports": used_ports, "queue": args.queue,
                "expected": len(expected), "received": received, "unique": len(seen),
                "duplicates": dups, "missing": len(missing), "missing_sample": missing[:20],
                "unexpected": len(seen - expected) if expected else 0, "foreign": foreign,
                "reconnects": max(reconnects, 0),
                "seconds": round(time.monotonic() - start, 2), "error": error}, bool(ok))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--user", default="broker")
    p.add_argument("--password", default="broker")
    p.add_argument("--vhost", default="/")
    p.add_argument("--connect-timeout", type=float, default=60, help="seconds to keep retrying a connection")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("declare", help="declare a durable queue")
    d.add_argument("--port", type=int, default=5672)
    d.add_argument("--queue", required=True)

    pub = sub.add_parser("publish", help="publish persistent messages with confirms")
    pub.add_argument("--port", type=int, default=5672)
    pub.add_argument("--queue", required=True)
    pub.add_argument("--count", type=int, default=2000)
    pub.add_argument("--window", type=int, default=256, help="unconfirmed messages in flight")
    pub.add_argument("--timeout", type=float, default=120)
    pub.add_argument("--run", default="", help="run id put in every body")
    pub.add_argument("--confirmed-out", help="file to write the confirmed ids to, one a line")

    c = sub.add_parser("consume", help="consume and ack until every expected id arrived")
    c.add_argument("--ports", default="5672", help="comma-separated ports, tried in order")
    c.add_argument("--queue", required=True)
    c.add_argument("--expected", help="file of expected ids (publish --confirmed-out)")
    c.add_argument("--prefetch", type=int, default=500)
    c.add_argument("--idle", type=float, default=3, help="seconds without deliveries that end a complete run")
    c.add_argument("--timeout", type=float, default=180)

    args = p.parse_args()
    try:
        return {"declare": cmd_declare, "publish": cmd_publish, "consume": cmd_consume}[args.cmd](args)
    except Exception as e:  # noqa: BLE001
        return out({"op": args.cmd, "error": f"{type(e).__name__}: {e}"}, False)


if __name__ == "__main__":
    sys.exit(main())
