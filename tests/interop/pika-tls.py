#!/usr/bin/env python3
"""pika over amqps: a publish and a get through the broker's TLS listener.

Usage: pika-tls.py PORT CA_FILE USER PASSWORD            (PLAIN over TLS)
       pika-tls.py PORT CA_FILE --external CERT KEY      (client certificate, SASL EXTERNAL)
Prints OK and exits 0, or prints what went wrong and exits 1. Bounded: every wait has a timeout.
"""
import ssl
import sys

import pika
from pika.credentials import ExternalCredentials, PlainCredentials


def main():
    port, ca = int(sys.argv[1]), sys.argv[2]
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if sys.argv[3] == "--external":
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        credentials = ExternalCredentials()
    else:
        credentials = PlainCredentials(sys.argv[3], sys.argv[4])
    params = pika.ConnectionParameters(host="localhost", port=port, credentials=credentials,
                                       ssl_options=pika.SSLOptions(context, "localhost"),
                                       blocked_connection_timeout=10, socket_timeout=10, connection_attempts=1)
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.confirm_delivery()
        channel.basic_publish("", queue, b"over tls", mandatory=True)
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None or body != b"over tls":
            print(f"FAILED: got {body!r}")
            return 1
        print(f"OK {connection._impl.params.credentials.__class__.__name__} "
              f"{connection._impl._transport._sock.version()}")
        return 0
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
