#!/usr/bin/python3
"""Resource alarms as pika sees them, as RabbitMQ 3.10.8 behaves.

Run against a broker that has an alarm in effect when the script starts (the test starts the node
with a disk free limit no disk meets):
1. a publisher with blocked_connection_timeout=2 publishes, hears connection.blocked with the
   reason, and pika gives up on it 2 s later (ConnectionBlockedTimeout);
2. a publisher with a long blocked_connection_timeout publishes and hears connection.blocked;
   the script then runs CLEAR-COMMAND (which must clear the alarm), the publisher hears
   connection.unblocked and its next publish is confirmed.
Usage: pika-blocked.py PORT REASON CLEAR-COMMAND...   (prints OK on success)
"""
import subprocess
import sys
import time

import pika

port = int(sys.argv[1])
expected_reason = sys.argv[2]
clear_command = sys.argv[3:]
creds = pika.PlainCredentials("guest", "guest")


def connect(blocked_timeout):
    connection = pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", port, credentials=creds, blocked_connection_timeout=blocked_timeout, heartbeat=0))
    events = []
    connection.add_on_connection_blocked_callback(lambda _c, frame: events.append(("blocked", frame.method.reason)))
    connection.add_on_connection_unblocked_callback(lambda _c, _frame: events.append(("unblocked",)))
    return connection, events


def pump_until(connection, events, wanted, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if any(e[0] == wanted for e in events):
            return
        connection.process_data_events(time_limit=0.2)
    raise AssertionError("no connection.%s within %d s; events: %r" % (wanted, seconds, events))


# 1. pika's blocked_connection_timeout ends a connection blocked for too long.
short, short_events = connect(2)
channel = short.channel()
channel.queue_delete("pika-blocked-q")
channel.queue_declare("pika-blocked-q", durable=True)
channel.basic_publish("", "pika-blocked-q", b"one")
pump_until(short, short_events, "blocked", 30)
assert short_events[0] == ("blocked", expected_reason), short_events
try:
    deadline = time.time() + 30
    while time.time() < deadline:
        short.process_data_events(time_limit=0.2)
    raise AssertionError("pika did not give up on the blocked connection")
except pika.exceptions.ConnectionBlockedTimeout:
    print("blocked_connection_timeout: ConnectionBlockedTimeout", flush=True)

# 2. Blocked, then unblocked when the alarm clears; publishing goes on.
publisher, events = connect(60)
channel = publisher.channel()
channel.basic_publish("", "pika-blocked-q", b"two")
pump_until(publisher, events, "blocked", 30)
print("blocked: %s" % events[0][1], flush=True)
subprocess.run(clear_command, check=True, stdout=subprocess.DEVNULL)
pump_until(publisher, events, "unblocked", 60)
print("unblocked", flush=True)
confirming = publisher.channel()
confirming.confirm_delivery()
confirming.basic_publish("", "pika-blocked-q", b"three")
bodies = []
while True:
    method, _props, body = channel.basic_get("pika-blocked-q", auto_ack=True)
    if method is None:
        break
    bodies.append(body)
# "one" and "two" were read before each connection was blocked; "three" after the alarm cleared.
assert bodies == [b"one", b"two", b"three"], bodies
channel.queue_delete("pika-blocked-q")
publisher.close()
print("OK")
