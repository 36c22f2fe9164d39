import pika, sys
name = sys.argv[1]
p = pika.ConnectionParameters('127.0.0.1', 5672, 'ref', pika.PlainCredentials('guest','guest'), client_properties={'connection_name': name})
c = pika.BlockingConnection(p); ch = c.channel()
print('open', flush=True)
try:
    while True: c.sleep(0.5)
except Exception as e:
    print('closed:', type(e).__name__, repr(e), flush=True)
