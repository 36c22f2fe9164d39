import json, base64, urllib.request, urllib.error, urllib.parse, time
OUT = '/work/main/tests/interop/management-rabbitmq'
def req(method, path, extra=None):
    r = urllib.request.Request('http://127.0.0.1:15672' + path, method=method)
    r.add_header('Authorization', 'Basic ' + base64.b64encode(b'guest:guest').decode())
    for k, v in (extra or {}).items(): r.add_header(k, v)
    try:
        resp = urllib.request.urlopen(r); return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
s, h, b = req('GET', '/api/connections?columns=name,client_properties')
conns = {c['client_properties'].get('connection_name'): c['name'] for c in json.loads(b)}
res = {}
for victim, extra in (('victim-1', None), ('victim-2', {'X-Reason': 'maintenance by ops'})):
    path = '/api/connections/' + urllib.parse.quote(conns[victim], safe='')
    s, h, b = req('DELETE', path, extra)
    res[victim] = {'request': {'method': 'DELETE', 'path': path, 'headers': extra or {}}, 'status': s,
                   'headers': {k.lower(): v for k, v in h.items() if k.lower() in ('content-type', 'content-length')}, 'body': b.decode() or None}
time.sleep(2)
for victim, n in (('victim-1', 1), ('victim-2', 2)):
    res[victim]['amqp_client_saw'] = open(f'/tmp/mgmtref/victim{n}.log').read().strip().splitlines()[-1]
s, h, b = req('DELETE', '/api/connections/' + urllib.parse.quote('127.0.0.1:1 -> 127.0.0.1:5672', safe=''))
res['unknown-connection'] = {'status': s, 'body': json.loads(b) if b else None}
json.dump(res, open(OUT + '/connection-delete.json', 'w'), indent=2); print(json.dumps(res, indent=1))
