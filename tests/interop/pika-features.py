"""Queue features driven by pika (Debian's python3-pika), whose API for them differs from
RabbitMQ.Client's: dead-lettering with x-death, direct reply-to RPC, priorities, delayed messages.

Usage: /usr/bin/python3 pika-features.py PORT   (exit 0 and "OK" when everything checked out)
"""
import sys
import time
import uuid

import pika

params = pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{sys.argv[1]}/")
conn = pika.BlockingConnection(params)
ch = conn.channel()
tag = uuid.uuid4().hex[:8]


def get_within(queue, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        method, props, body = ch.basic_get(queue, auto_ack=True)
        if method is not None:
            return method, props, body
        time.sleep(0.02)
    raise AssertionError(f"nothing in {queue} within {seconds} s")


# Dead-lettering: a rejected message arrives with x-death as pika decodes it.
dlx, dlq, src = f"dlx-{tag}", f"dlq-{tag}", f"src-{tag}"
ch.exchange_declare(dlx, "fanout")
ch.queue_declare(dlq)
ch.queue_bind(dlq, dlx)
ch.queue_declare(src, arguments={"x-dead-letter-exchange": dlx})
ch.basic_publish("", src, b"doomed", pika.BasicProperties(headers={"n": 1}))
method = None
for _ in range(250):
    method, props, body = ch.basic_get(src, auto_ack=False)
    if method:
        break
    time.sleep(0.02)
ch.basic_reject(method.delivery_tag, requeue=False)
method, props, body = get_within(dlq)
death = props.headers["x-death"][0]
assert body == b"doomed"
assert props.headers["n"] == 1
assert death["reason"] == "rejected" and death["queue"] == src and death["count"] == 1, death
assert props.headers["x-first-death-reason"] == "rejected"
print("dead-lettering: x-death", {k: death[k] for k in ("count", "reason", "queue", "exchange")})

# TTL: expired into the dead-letter exchange.
ttl = f"ttl-{tag}"
ch.queue_declare(ttl, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": dlx})
ch.basic_publish("", ttl, b"stale")
method, props, body = get_within(dlq)
assert props.headers["x-death"][0]["reason"] == "expired"
print("ttl: expired and dead-lettered")

# Priorities.
prio = f"prio-{tag}"
ch.queue_declare(prio, arguments={"x-max-priority": 9})
for p in (1, 9, 5):
    ch.basic_publish("", prio, str(p).encode(), pika.BasicProperties(priority=p))
order = [get_within(prio)[2] for _ in range(3)]
assert order == [b"9", b"5", b"1"], order
print("priorities:", order)

# Direct reply-to RPC, with a second connection as the server.
server_conn = pika.BlockingConnection(params)
server = server_conn.channel()
rpc = f"rpc-{tag}"
server.queue_declare(rpc, auto_delete=True)
replies = []
ch.basic_consume("amq.rabbitmq.reply-to", lambda c, m, p, b: replies.append((m, p, b)), auto_ack=True)
ch.basic_publish("", rpc, b"ping", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id="c1"))
deadline = time.monotonic() + 5
request = None
while request is None and time.monotonic() < deadline:
    request = server.basic_get(rpc, auto_ack=True)
    if request[0] is None:
        request = None
        time.sleep(0.02)
_, req_props, _ = request
assert req_props.reply_to.startswith("amq.rabbitmq.reply-to."), req_props.reply_to
server.basic_publish("", req_props.reply_to, b"pong", pika.BasicProperties(correlation_id=req_props.correlation_id))
deadline = time.monotonic() + 5
while not replies and time.monotonic() < deadline:
    conn.process_data_events(time_limit=0.1)
assert replies and replies[0][2] == b"pong" and replies[0][1].correlation_id == "c1", replies
print("direct reply-to: reply received")

# Delayed messages.
delayed, target = f"delayed-{tag}", f"delayed-q-{tag}"
ch.exchange_declare(delayed, "x-delayed-message", arguments={"x-delayed-type": "direct"})
ch.queue_declare(target)
ch.queue_bind(target, delayed, "k")
start = time.monotonic()
ch.basic_publish(delayed, "k", b"later", pika.BasicProperties(headers={"x-delay": 300}))
_, _, body = get_within(target)
waited = time.monotonic() - start
assert body == b"later" and waited >= 0.29, waited
print(f"delayed message: routed after {waited:.2f} s")

server_conn.close()
conn.close()
print("OK")
