#!/usr/bin/python3
"""A content header larger than the consumer's frame_max, as RabbitMQ 3.10.8 handles it.

A publisher with the default frame_max publishes a message with about 10 KB of headers; a
consumer that negotiated frame_max 4096 gets it with basic.get. RabbitMQ sends the header frame
whole (a header cannot be split) and pika reads it; this broker must do the same.
Usage: pika-big-header.py PORT   (prints OK on success)
"""
import sys

import pika

port = int(sys.argv[1])
creds = pika.PlainCredentials("guest", "guest")
publisher = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, credentials=creds))
channel = publisher.channel()
queue = channel.queue_declare("", exclusive=False, auto_delete=True).method.queue
headers = {"h%d" % i: "x" * 100 for i in range(100)}
channel.basic_publish("", queue, b"body", pika.BasicProperties(headers=headers))

consumer = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, credentials=creds, frame_max=4096))
method, properties, body = consumer.channel().basic_get(queue, auto_ack=True)
assert method is not None, "no message"
assert properties.headers == headers, "headers changed"
assert body == b"body", body
consumer.close()
channel.queue_delete(queue)
publisher.close()
print("OK")
