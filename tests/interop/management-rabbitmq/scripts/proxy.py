import http.server, http.client, json, sys, threading
LOG = open('/tmp/mgmtref/proxy.log', 'a')
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def _do(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else b''
        c = http.client.HTTPConnection('127.0.0.1', 15672, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ('host', 'connection')}
        c.request(self.command, self.path, body, hdrs)
        r = c.getresponse(); rb = r.read()
        rec = {'tag': TAG[0], 'method': self.command, 'path': self.path,
               'req_headers': {k: v for k, v in self.headers.items() if k.lower() in ('content-type', 'accept', 'user-agent', 'content-length')},
               'req_body': body.decode('utf-8', 'replace')[:600], 'status': r.status,
               'resp_content_type': r.getheader('content-type'), 'resp_location': r.getheader('location'),
               'resp_body': rb.decode('utf-8', 'replace')[:400]}
        LOG.write(json.dumps(rec) + '\n'); LOG.flush()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ('transfer-encoding', 'connection', 'content-length', 'date', 'server'): self.send_header(k, v)
        self.send_header('Content-Length', str(len(rb))); self.end_headers(); self.wfile.write(rb)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _do
    def log_message(self, *a): pass
TAG = ['']
class Tagger(http.server.BaseHTTPRequestHandler): pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 15699), H)
# control: tag file read per request
import os
orig = H._do
def tagged(self):
    try: TAG[0] = open('/tmp/mgmtref/tag').read().strip()
    except Exception: pass
    orig(self)
H.do_GET = H.do_PUT = H.do_POST = H.do_DELETE = H.do_HEAD = tagged
srv.serve_forever()
