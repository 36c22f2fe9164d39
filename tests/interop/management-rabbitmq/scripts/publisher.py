import pika, time
p = pika.ConnectionParameters('127.0.0.1', 5672, 'ref', pika.PlainCredentials('guest','guest'),
        client_properties={'connection_name':'ref-publisher'}, heartbeat=60)
c = pika.BlockingConnection(p); ch = c.channel(); ch.confirm_delivery()
for i in range(300):
    ch.basic_publish('ref.direct', 'orders', b'order %d' % i, pika.BasicProperties(delivery_mode=2))
for i in range(40):
    ch.basic_publish('ref.topic', 'work.item', b'work %d' % i)
for i in range(20):
    ch.basic_publish('ref.direct', 'audit.log', b'audit %d' % i)
ch.basic_publish('ref.direct', 'nowhere', b'unroutable')
print('bulk done', flush=True)
try:
    n = 0
    while True:
        ch.basic_publish('ref.direct', 'orders', b'tick %d' % n); n += 1
        c.sleep(1)
except Exception as e:
    print('closed:', repr(e), flush=True)
