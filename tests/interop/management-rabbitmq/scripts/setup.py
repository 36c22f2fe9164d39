import pika
p = pika.ConnectionParameters('127.0.0.1', 5672, 'ref', pika.PlainCredentials('guest','guest'),
        client_properties={'connection_name':'ref-setup'})
c = pika.BlockingConnection(p); ch = c.channel()
ch.exchange_declare('ref.direct', 'direct', durable=True)
ch.exchange_declare('ref.topic', 'topic', durable=True, arguments={'alternate-exchange':'amq.fanout'})
ch.queue_declare('ref.durable', durable=True)
ch.queue_declare('orders', durable=True, arguments={'x-message-ttl':600000})
ch.queue_declare('work', durable=False)
ch.queue_declare('audit', durable=True, arguments={'x-max-length':500})
ch.queue_bind('orders', 'ref.direct', 'orders')
ch.queue_bind('ref.durable', 'ref.direct', 'durable')
ch.queue_bind('work', 'ref.topic', 'work.#')
ch.queue_bind('audit', 'ref.topic', 'audit.*', arguments={'x-note':'hdr'})
ch.exchange_bind(destination='ref.topic', source='ref.direct', routing_key='audit.log')
for i in range(5):
    ch.basic_publish('', 'ref.durable', ('durable message %d' % i).encode(),
        pika.BasicProperties(delivery_mode=2, content_type='text/plain', headers={'seq': i}, message_id='m%d' % i))
c.close()
