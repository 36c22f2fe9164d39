import pika, sys
p = pika.ConnectionParameters('127.0.0.1', 5672, 'ref', pika.PlainCredentials('guest','guest'),
        client_properties={'connection_name':'ref-consumer'}, heartbeat=60)
c = pika.BlockingConnection(p)
ch1 = c.channel(); ch1.basic_qos(prefetch_count=10)
ch1.basic_consume('work', lambda ch, m, pr, b: None, auto_ack=False, consumer_tag='stuck-consumer')  # never acks
ch2 = c.channel(); ch2.basic_qos(prefetch_count=50)
def ackit(ch, m, pr, b): ch.basic_ack(m.delivery_tag)
ch2.basic_consume('orders', ackit, auto_ack=False, consumer_tag='orders-worker', arguments={'x-priority': 5})
ch3 = c.channel()
ch3.basic_consume('audit', lambda ch, m, pr, b: None, auto_ack=True, exclusive=True)
print('consuming', flush=True)
try:
    ch1.start_consuming()
except Exception as e:
    print('closed:', repr(e), flush=True)
