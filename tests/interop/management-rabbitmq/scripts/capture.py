import json, base64, urllib.request, urllib.error, urllib.parse, sys, os
OUT = '/work/main/tests/interop/management-rabbitmq'
BASE = 'http://127.0.0.1:15672'
HDRS = []  # (method, path, status, selected headers)
KEEP_H = ['content-type', 'www-authenticate', 'location', 'content-length', 'vary', 'cache-control', 'content-security-policy', 'server']

def req(method, path, body=None, user='guest', pw='guest', ctype='application/json', extra=None):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    r = urllib.request.Request(BASE + path, data=data, method=method)
    if user is not None:
        r.add_header('Authorization', 'Basic ' + base64.b64encode(f'{user}:{pw}'.encode()).decode())
    if data is not None and ctype:
        r.add_header('Content-Type', ctype)
    for k, v in (extra or {}).items():
        r.add_header(k, v)
    try:
        resp = urllib.request.urlopen(r)
        status, h, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, h, raw = e.code, e.headers, e.read()
    hd = {k.lower(): v for k, v in h.items() if k.lower() in KEEP_H}
    HDRS.append((method, path, status, hd))
    try:
        b = json.loads(raw) if raw else None
    except Exception:
        b = raw.decode('utf-8', 'replace')
    return status, hd, b

def trim(o):
    if isinstance(o, list):
        # short all-scalar tuples (e.g. backing_queue_status.delta, linger) are kept whole
        if len(o) <= 5 and all(not isinstance(x, (list, dict)) for x in o):
            return list(o)
        return [trim(x) for x in o[:2]]
    if isinstance(o, dict):
        return {k: trim(v) for k, v in o.items()}
    return o

def pick(lst, pred):
    """top-level list: prefer up to 2 elements matching pred (documented in README)"""
    if not isinstance(lst, list): return lst
    sel = [x for x in lst if pred(x)] or lst
    return sel[:2]

def save(fname, obj):
    with open(os.path.join(OUT, fname), 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=False, ensure_ascii=False); f.write('\n')

def get_save(fname, path, pred=None, **kw):
    s, h, b = req('GET', path, **kw)
    assert s == 200, (path, s, b)
    if pred: b = pick(b, pred)
    save(fname, trim(b)); return b

def err_save(fname, method, path, body=None, note=None, **kw):
    s, h, b = req(method, path, body, **kw)
    rec = {'request': {'method': method, 'path': path}, 'status': s, 'headers': h, 'body': b}
    if body is not None: rec['request']['body'] = body if not isinstance(body, bytes) else body.decode()
    if kw.get('user') != 'guest' and 'user' in kw: rec['request']['user'] = kw['user']
    if note: rec['note'] = note
    save(fname, rec); print(fname, s, json.dumps(b)[:200]); return s, b

q = lambda s: urllib.parse.quote(s, safe='')
inref = lambda x: x.get('vhost') == 'ref'

# ---- GETs ----
get_save('overview.json', '/api/overview')
nodes = get_save('nodes.json', '/api/nodes')
node = nodes[0]['name']
get_save('nodes-name.json', '/api/nodes/' + q(node))
conns = get_save('connections.json', '/api/connections', pred=lambda c: c.get('client_properties', {}).get('connection_name') in ('ref-consumer', 'ref-publisher'))
pubconn = [c for c in conns if c['client_properties'].get('connection_name') == 'ref-publisher'][0]['name']
get_save('connections-name.json', '/api/connections/' + q(pubconn))
chans = get_save('channels.json', '/api/channels', pred=lambda c: c.get('confirm') or c.get('messages_unacknowledged', 0) > 0)
stuck = [c for c in req('GET', '/api/channels')[2] if c.get('messages_unacknowledged', 0) > 0][0]['name']
get_save('channels-name.json', '/api/channels/' + q(stuck))
get_save('consumers.json', '/api/consumers', pred=lambda c: c['consumer_tag'] in ('stuck-consumer', 'orders-worker'))
get_save('exchanges.json', '/api/exchanges', pred=lambda x: x['name'] in ('ref.direct', 'ref.topic'))
get_save('exchanges-vhost-name.json', '/api/exchanges/ref/ref.direct')
get_save('exchanges-vhost-name-bindings-source.json', '/api/exchanges/ref/ref.direct/bindings/source')
get_save('exchanges-vhost-name-bindings-destination.json', '/api/exchanges/ref/ref.topic/bindings/destination')
get_save('queues.json', '/api/queues', pred=lambda x: x['name'] in ('work', 'ref.durable'))
get_save('queues-vhost-name.json', '/api/queues/ref/work')
get_save('queues-vhost-name-durable-with-policy.json', '/api/queues/ref/ref.durable')
get_save('queues-vhost-name-bindings.json', '/api/queues/ref/orders/bindings')
s, h, b = req('GET', '/api/queues?page=1&page_size=2&name=&use_regex=false&pagination=true')
save('queues-paginated.json', trim(b))
get_save('bindings.json', '/api/bindings', pred=lambda x: x['vhost'] == 'ref' and x['source'] == 'ref.direct')
get_save('bindings-vhost-e-source-q-destination.json', '/api/bindings/ref/e/ref.direct/q/orders')
get_save('bindings-vhost-e-source-e-destination.json', '/api/bindings/ref/e/ref.direct/e/ref.topic')
get_save('vhosts.json', '/api/vhosts')
get_save('vhosts-name.json', '/api/vhosts/ref')
get_save('users.json', '/api/users')
get_save('users-name.json', '/api/users/refuser')
get_save('permissions.json', '/api/permissions', pred=inref)
get_save('permissions-vhost-user.json', '/api/permissions/ref/refuser')
get_save('topic-permissions.json', '/api/topic-permissions')
get_save('whoami.json', '/api/whoami')
get_save('whoami-refuser.json', '/api/whoami', user='refuser', pw='refpass')
get_save('aliveness-test-vhost.json', '/api/aliveness-test/%2F')
get_save('healthchecks-node.json', '/api/healthchecks/node')
get_save('definitions.json', '/api/definitions')
get_save('definitions-vhost.json', '/api/definitions/ref')
get_save('policies.json', '/api/policies')
get_save('policies-vhost-name.json', '/api/policies/ref/ref-policy')
get_save('extensions.json', '/api/extensions')

# ---- POST get / publish ----
s, h, b = req('POST', '/api/queues/ref/ref.durable/get', {"count": 2, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 50000})
assert s == 200, (s, b); save('queues-vhost-name-get.json', trim(b))
s, h, b = req('POST', '/api/exchanges/ref/ref.direct/publish', {"properties": {}, "routing_key": "k", "payload": "hi", "payload_encoding": "string"})
assert s == 200, (s, b); save('exchanges-vhost-name-publish.json', b)
s, h, b = req('POST', '/api/exchanges/ref/ref.direct/publish', {"properties": {"delivery_mode": 2, "headers": {"a": 1}}, "routing_key": "durable", "payload": "aGk=", "payload_encoding": "base64"})
save('exchanges-vhost-name-publish-routed.json', b)

# ---- errors ----
err_save('error-queue-not-found.json', 'GET', '/api/queues/ref/no-such-queue')
err_save('error-vhost-not-found.json', 'GET', '/api/queues/no-such-vhost')
err_save('error-unknown-path.json', 'GET', '/api/no-such-endpoint')
err_save('error-wrong-password.json', 'GET', '/api/overview', pw='wrong')
err_save('error-no-credentials.json', 'GET', '/api/overview', user=None)
err_save('error-not-administrator.json', 'GET', '/api/users', user='refuser', pw='refpass')
err_save('error-not-administrator-put-vhost.json', 'PUT', '/api/vhosts/refx', {}, user='refuser', pw='refpass')
err_save('error-no-vhost-access.json', 'GET', '/api/queues/%2F', user='refuser', pw='refpass')
err_save('error-queue-inequivalent-args.json', 'PUT', '/api/queues/ref/orders', {"durable": True, "auto_delete": False, "arguments": {"x-message-ttl": 1000}})
err_save('error-queue-inequivalent-durable.json', 'PUT', '/api/queues/ref/orders', {"durable": False})
err_save('error-queue-bad-argument-type.json', 'PUT', '/api/queues/ref/ref.badarg', {"durable": True, "arguments": {"x-message-ttl": "abc"}})
err_save('error-queue-bad-argument-negative.json', 'PUT', '/api/queues/ref/ref.badarg', {"durable": True, "arguments": {"x-max-length": -1}})
err_save('error-queue-delete-if-empty.json', 'DELETE', '/api/queues/ref/ref.durable?if-empty=true')
err_save('error-queue-delete-if-unused.json', 'DELETE', '/api/queues/ref/work?if-unused=true')
err_save('error-exchange-unknown-type.json', 'PUT', '/api/exchanges/ref/x', {"type": "nonsense", "durable": True})
err_save('exchange-put-missing-type-defaults-direct.json', 'PUT', '/api/exchanges/ref/x', {"durable": True})
err_save('error-definitions-garbage.json', 'POST', '/api/definitions', b'{this is not json', )
err_save('error-body-not-json.json', 'PUT', '/api/queues/ref/ref.bad', b'not json')
err_save('error-method-not-allowed.json', 'POST', '/api/overview', {})
err_save('exchanges-vhost-amq.default-publish.json', 'POST', '/api/exchanges/ref/amq.default/publish', {"properties": {}, "routing_key": "ref.durable", "payload": "x", "payload_encoding": "string"}, note='success case: amq.default is the default exchange alias')
err_save('error-delete-queue-not-found.json', 'DELETE', '/api/queues/ref/no-such-queue')
err_save('error-get-bad-ackmode.json', 'POST', '/api/queues/ref/ref.durable/get', {"count": 1, "ackmode": "bogus", "encoding": "auto"})
err_save('error-declare-amq-prefix.json', 'PUT', '/api/exchanges/ref/amq.custom', {"type": "direct"})
err_save('error-delete-default-exchange.json', 'DELETE', '/api/exchanges/ref/amq.direct')

with open('/tmp/mgmtref/headers.json', 'w') as f:
    json.dump(HDRS, f, indent=1)
req('DELETE', '/api/exchanges/ref/x')
print('done')
