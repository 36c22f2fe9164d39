#!/usr/bin/python3
"""Access-control probe: users, vhosts, permissions, topic permissions, vhost limits.

Prints one line per case, "name<TAB>ok" or "name<TAB>REPLY_CODE<TAB>reply text" (the channel or
connection close the broker sent; server-generated names are normalized to amq.gen-X), so that
the output of a run against RabbitMQ and a run against our broker can be diffed.

The expected output (access-rabbitmq.expected) was captured from RabbitMQ 3.10.8 (Debian's
rabbitmq-server, started by /work/shared/tools/rabbitmq-local start) with:

    /usr/bin/python3 tests/interop/access-probe.py --port 5672 --ctl rabbitmq > tests/interop/access-rabbitmq.expected

Against our broker:

    /usr/bin/python3 tests/interop/access-probe.py --port PORT --ctl broker --broker-dll PATH/TO/ctl.dll

The probe sets up its own fixtures with fixed names (vhosts ap-main, ap-lim, ap-gone; users ap-u,
ap-g, ap-t, ap-adm, ap-life), deleting them first and again at the end, so two runs diff cleanly.
Requires pika (Debian's python3-pika: run it with /usr/bin/python3). Every wait is bounded;
exit status 0 means it ran to the end (not that the outcomes matched anything).

Cases with special meaning:
  "closed<TAB>..."   the server closed the socket without sending connection.close
  "TIMEOUT"          the case did not finish within its time limit
  "EXC<TAB>..."      an unexpected client-side exception
"""
import argparse
import ast
import re
import signal
import subprocess
import sys
import time

import pika
from pika.exceptions import (AMQPConnectionError, ChannelClosedByBroker, ConnectionClosed,
                             ConnectionClosedByBroker, ProbableAccessDeniedError,
                             ProbableAuthenticationError, StreamLostError)

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--ctl", choices=["rabbitmq", "broker"], required=True)
ap.add_argument("--broker-dll")
ap.add_argument("--admin-user", default="guest")
ap.add_argument("--admin-pass", default="guest")
ap.add_argument("--node", default="rabbit@localhost")
ap.add_argument("--verbose", action="store_true", help="echo ctl commands to stderr")
opts = ap.parse_args()
if opts.ctl == "broker" and not opts.broker_dll:
    ap.error("--ctl broker needs --broker-dll")

ADMIN, ADMIN_PW = opts.admin_user, opts.admin_pass
MAIN, LIM, GONE = "ap-main", "ap-lim", "ap-gone"
USERS = {"ap-u": "pw-u", "ap-g": "pw-g", "ap-t": "pw-t", "ap-adm": "pw-adm", "ap-life": "pw-life"}
START = time.monotonic()
TOTAL_BUDGET = 60.0   # seconds since start; cases after this print TIMEOUT without running
CASE_LIMIT = 10.0     # seconds per case


class CaseTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise CaseTimeout()


signal.signal(signal.SIGALRM, _on_alarm)


# ---------------------------------------------------------------------------------------------
# Administration: our command-line syntax, translated to rabbitmqctl when --ctl rabbitmq.

def _split_vhost(args):
    args = list(args)
    vhost = "/"
    if "--vhost" in args:
        i = args.index("--vhost")
        vhost = args[i + 1]
        del args[i:i + 2]
    return args, vhost


def rabbitmqctl_args(args):
    """Map our syntax (see module doc of the broker's ctl tool) onto rabbitmqctl's."""
    rest, vhost = _split_vhost(args)
    group, verb, rest = rest[0], rest[1], rest[2:]
    m = {
        ("users", "add"): lambda: ["add_user"] + rest,                    # NAME PASSWORD
        ("users", "delete"): lambda: ["delete_user"] + rest,              # NAME
        ("users", "password"): lambda: ["change_password"] + rest,        # NAME PASSWORD
        ("users", "tags"): lambda: ["set_user_tags"] + rest,              # NAME [TAG...]
        ("users", "list"): lambda: ["list_users"],
        ("vhosts", "add"): lambda: ["add_vhost"] + rest,                  # NAME
        ("vhosts", "delete"): lambda: ["delete_vhost"] + rest,            # NAME
        ("vhosts", "list"): lambda: ["list_vhosts"],
        ("vhosts", "limits"): lambda: ["set_vhost_limits", "-p", rest[0], rest[1]],  # VHOST JSON
        ("permissions", "set"): lambda: ["set_permissions", "-p", vhost] + rest,      # U C W R
        ("permissions", "clear"): lambda: ["clear_permissions", "-p", vhost] + rest,  # U
        ("permissions", "list"): lambda: ["list_permissions", "-p", vhost],
        ("topic-permissions", "set"): lambda: ["set_topic_permissions", "-p", vhost] + rest,  # U X W R
        ("topic-permissions", "clear"): lambda: ["clear_topic_permissions", "-p", vhost] + rest,  # U [X]
    }
    return ["rabbitmqctl", "-n", opts.node] + m[(group, verb)]()


def ctl_argv(args):
    if opts.ctl == "rabbitmq":
        return rabbitmqctl_args(args)
    uri = f"amqp://{ADMIN}:{ADMIN_PW}@127.0.0.1:{opts.port}/"
    return ["dotnet", opts.broker_dll] + list(args) + ["--uri", uri]


def ctl_start(*args):
    argv = ctl_argv(args)
    if opts.verbose:
        print("ctl:", " ".join(argv), file=sys.stderr)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ctl_wait(p, check=True, timeout=30):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise SystemExit(f"ctl timed out: {' '.join(p.args)}")
    if check and p.returncode != 0:
        raise SystemExit(f"ctl failed ({p.returncode}): {' '.join(p.args)}\n{out}{err}")
    return p.returncode


def ctl(*args, check=True):
    return ctl_wait(ctl_start(*args), check)


def ctl_many(commands, check=True, parallel=4):
    """Run independent ctl commands a few at a time."""
    for i in range(0, len(commands), parallel):
        procs = [ctl_start(*c) for c in commands[i:i + parallel]]
        for p in procs:
            ctl_wait(p, check)


# ---------------------------------------------------------------------------------------------
# Client helpers.

def params(user=None, password=None, vhost=MAIN, client_properties=None):
    kw = {}
    if client_properties is not None:
        kw["client_properties"] = client_properties
    return pika.ConnectionParameters(
        host="127.0.0.1", port=opts.port, virtual_host=vhost,
        credentials=pika.PlainCredentials(user or ADMIN, ADMIN_PW if password is None else password),
        connection_attempts=1, retry_delay=0, socket_timeout=5, stack_timeout=8,
        blocked_connection_timeout=5, **kw)


def connect(user=None, password=None, vhost=MAIN, **kw):
    if user is not None and password is None:
        password = USERS[user]
    return pika.BlockingConnection(params(user, password, vhost, **kw))


_pool = {}


def chan(user=None, vhost=MAIN):
    """A fresh channel on a shared (reopened when needed) connection for user/vhost."""
    key = (user, vhost)
    c = _pool.get(key)
    if c is None or not c.is_open:
        c = _pool[key] = connect(user, vhost=vhost)
    return c.channel()


def close_quietly(c):
    try:
        if c is not None and c.is_open:
            c.close()
    except Exception:
        pass


def normalize(text):
    text = re.sub(r"amq\.gen-[A-Za-z0-9_\-]+", "amq.gen-X", text)
    text = re.sub(r"amq\.ctag-[A-Za-z0-9_\-]+", "amq.ctag-X", text)
    return text


_CLOSE_REPR = re.compile(r"\((\d+)\) (['\"].*['\"])")


def describe(exc):
    """Turn a client exception into 'CODE<TAB>text' (or a marker for socket-level failures)."""
    if isinstance(exc, (ChannelClosedByBroker, ConnectionClosedByBroker)):
        return f"{exc.reply_code}\t{normalize(exc.reply_text)}"
    if isinstance(exc, (ProbableAuthenticationError, ProbableAccessDeniedError)):
        inner = exc.args[0] if exc.args else ""
        m = _CLOSE_REPR.search(str(inner))
        if m and "ConnectionClosedByBroker" in str(inner):
            return f"{m.group(1)}\t{normalize(ast.literal_eval(m.group(2)))}"
        if "StreamLostError" in str(inner):
            return "closed\tsocket closed without connection.close"
        return f"closed\t{type(exc).__name__}"
    if isinstance(exc, StreamLostError):
        return "closed\tStreamLostError"
    if isinstance(exc, CaseTimeout):
        return "TIMEOUT"
    return f"EXC\t{type(exc).__name__}: {normalize(str(exc))[:200]}"


def case(name, fn):
    """Run fn(); print name<TAB>ok, or what the broker closed with."""
    if time.monotonic() - START > TOTAL_BUDGET:
        print(f"{name}\tTIMEOUT", flush=True)
        return
    signal.setitimer(signal.ITIMER_REAL, CASE_LIMIT)
    try:
        r = fn()
        line = r if isinstance(r, str) else "ok"
    except Exception as e:  # noqa: BLE001 - everything becomes a result line
        line = describe(e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    print(f"{name}\t{line}", flush=True)


def roundtrip(ch):
    """A synchronous method after an asynchronous one: surfaces a channel close."""
    ch.basic_qos(prefetch_count=0)


def publish(ch, exchange, key, **props):
    ch.basic_publish(exchange, key, b"probe", pika.BasicProperties(**props))
    roundtrip(ch)


def wait_for_close(conn, seconds=5.0):
    """Pump events until the broker closes the connection; raise its close, or return a marker."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.1)  # raises ConnectionClosedByBroker
        if not conn.is_open:
            return "closed\twithout connection.close"
    return "still-open"


# ---------------------------------------------------------------------------------------------
# Setup.

def cleanup():
    ctl_many([("vhosts", "delete", v) for v in (MAIN, LIM, GONE)]
             + [("users", "delete", u) for u in USERS], check=False)


cleanup()
ctl_many([("vhosts", "add", v) for v in (MAIN, LIM, GONE)]
         + [("users", "add", u, p) for u, p in USERS.items()])
# Permission patterns of ap-u: the name prefix says what it may do: c- configure, w- write,
# r- read, cr-/cw-/rw-/crw- combinations, n- nothing.
U_CONF, U_WRITE, U_READ = r"^(c|cr|cw|crw)-", r"^(w|cw|rw|crw)-", r"^(r|cr|rw|crw)-"
ctl_many([
    ("permissions", "set", ADMIN, ".*", ".*", ".*", "--vhost", MAIN),
    ("permissions", "set", ADMIN, ".*", ".*", ".*", "--vhost", LIM),
    ("permissions", "set", ADMIN, ".*", ".*", ".*", "--vhost", GONE),
    ("permissions", "set", "ap-u", U_CONF, U_WRITE, U_READ, "--vhost", MAIN),
    # ap-g: server-named queues, the default exchange, and an unanchored read pattern.
    ("permissions", "set", "ap-g", r"^amq\.gen-", r"^amq\.default$", "gen-", "--vhost", MAIN),
    ("permissions", "set", "ap-t", ".*", ".*", ".*", "--vhost", MAIN),
    ("permissions", "set", "ap-life", ".*", ".*", ".*", "--vhost", MAIN),
    # ap-adm (tag administrator) has nothing in ap-main; in ap-gone a pattern with a placeholder
    # (only topic permissions expand {username}/{vhost}).
    ("permissions", "set", "ap-adm", "^{username}-", ".*", ".*", "--vhost", GONE),
    ("users", "tags", "ap-adm", "administrator"),
    ("topic-permissions", "set", "ap-t", "tx", r"^{username}\.", r"^{vhost}\.", "--vhost", MAIN),
    ("topic-permissions", "set", "ap-t", "tx3", "", ".*", "--vhost", MAIN),
    ("topic-permissions", "set", "ap-t", "dx", "^nomatch$", "^nomatch$", "--vhost", MAIN),
    ("vhosts", "limits", LIM, '{"max-connections": 2, "max-queues": 1}'),
])

# Admin fixtures in ap-main.
try:
    admin = connect()
except AMQPConnectionError as e:
    raise SystemExit(f"cannot connect as {ADMIN} to vhost {MAIN} on port {opts.port}: {e!r}")
a = admin.channel()
for x, t in [("r-x", "direct"), ("w-x", "direct"), ("rw-x", "direct"), ("n-x", "direct"),
             ("c-xdel", "direct"), ("tx", "topic"), ("tx2", "topic"), ("tx3", "topic"),
             ("dx", "direct")]:
    a.exchange_declare(x, t)
a.exchange_declare("c-aex", "fanout", arguments={"alternate-exchange": "n-ae"})
a.exchange_declare("w-int", "fanout", internal=True)
a.queue_declare("c-dlxq", arguments={"x-dead-letter-exchange": "n-dlx"})
for q in ("r-q", "w-q", "rw-q", "n-q", "cw-q", "c-qdel", "tq"):
    a.queue_declare(q)
a.queue_declare("crw-excl", exclusive=True)
a.queue_declare("n-excl", exclusive=True)


def u_ch():
    return chan("ap-u")


# ---------------------------------------------------------------------------------------------
# 3. Connections and logins.

def open_close(user, password=None, vhost=MAIN, **kw):
    c = connect(user, password, vhost, **kw)
    c.close()


case("open-no-tags", lambda: open_close("ap-u"))
case("open-admin-tag-no-perms", lambda: open_close("ap-adm"))
case("open-no-perms-vhost", lambda: open_close("ap-u", vhost=LIM))
case("open-no-perms-default-vhost", lambda: open_close("ap-u", vhost="/"))
case("open-missing-vhost", lambda: open_close("ap-u", vhost="ap-nosuch"))
case("open-missing-vhost-admin", lambda: open_close(None, vhost="ap-nosuch"))
case("login-wrong-password", lambda: open_close("ap-u", "wrong"))
case("login-unknown-user", lambda: open_close("ap-nosuch", "pw"))
case("login-blank-password", lambda: open_close("ap-u", ""))
# Without the authentication_failure_close capability RabbitMQ just drops the socket.
case("login-wrong-password-nocap", lambda: open_close(
    "ap-u", "wrong", client_properties={"capabilities": {"basic.nack": True}}))

# ---------------------------------------------------------------------------------------------
# 1. Permissions table (user ap-u in ap-main).

# exchange.declare
case("xdecl-ok", lambda: u_ch().exchange_declare("c-x1", "fanout"))
case("xdecl-refused", lambda: u_ch().exchange_declare("rw-x1", "fanout"))
case("xdecl-existing-refused", lambda: u_ch().exchange_declare("r-x", "direct"))
case("xdecl-passive-no-rights", lambda: u_ch().exchange_declare("n-x", passive=True))
case("xdecl-passive-missing", lambda: u_ch().exchange_declare("c-nosuch", passive=True))
case("xdecl-passive-missing-no-rights", lambda: u_ch().exchange_declare("n-nosuch", passive=True))
case("xdecl-default", lambda: u_ch().exchange_declare("", "direct"))
case("xdecl-passive-default", lambda: u_ch().exchange_declare("", passive=True))
case("xdecl-amq-prefix-no-rights", lambda: u_ch().exchange_declare("amq.n-x", "direct"))
case("xdecl-amq-prefix-admin", lambda: chan().exchange_declare("amq.n-x", "direct"))
case("xdecl-inequivalent-type", lambda: u_ch().exchange_declare("c-x1", "direct"))
# alternate-exchange: configure on X, then read on X, then write on the AE (new exchanges only)
AE = "alternate-exchange"
case("xdecl-ae-ok", lambda: u_ch().exchange_declare("cr-ae1", "fanout", arguments={AE: "w-ae"}))
case("xdecl-ae-no-read-on-x", lambda: u_ch().exchange_declare("c-ae2", "fanout", arguments={AE: "w-ae"}))
case("xdecl-ae-no-write-on-ae", lambda: u_ch().exchange_declare("cr-ae3", "fanout", arguments={AE: "r-ae"}))
case("xdecl-ae-no-configure", lambda: u_ch().exchange_declare("rw-ae4", "fanout", arguments={AE: "w-ae"}))
case("xdecl-ae-existing", lambda: u_ch().exchange_declare("c-aex", "fanout", arguments={AE: "n-ae"}))
# exchange.delete
case("xdel-ok", lambda: u_ch().exchange_delete("c-xdel"))
case("xdel-refused", lambda: u_ch().exchange_delete("rw-x"))
case("xdel-missing-ok", lambda: u_ch().exchange_delete("c-nosuch"))
case("xdel-missing-refused", lambda: u_ch().exchange_delete("n-nosuch"))
case("xdel-amq-system", lambda: chan().exchange_delete("amq.direct"))
case("xdel-default", lambda: u_ch().exchange_delete(""))

# queue.declare
case("qdecl-ok", lambda: u_ch().queue_declare("c-q1"))
case("qdecl-refused", lambda: u_ch().queue_declare("rw-q1"))
case("qdecl-existing-refused", lambda: u_ch().queue_declare("rw-q"))
case("qdecl-passive-no-rights", lambda: u_ch().queue_declare("n-q", passive=True))
case("qdecl-passive-missing", lambda: u_ch().queue_declare("c-nosuch", passive=True))
case("qdecl-passive-missing-no-rights", lambda: u_ch().queue_declare("n-nosuch", passive=True))
case("qdecl-server-named-refused", lambda: u_ch().queue_declare("", exclusive=True))


def server_named_ok():
    ch = chan("ap-g")
    q = ch.queue_declare("", exclusive=True).method.queue
    assert q.startswith("amq.gen-"), q
    ch.basic_get(q)  # read pattern "gen-" is unanchored: matches amq.gen-...


case("qdecl-server-named-ok", server_named_ok)
case("qdecl-amq-prefix-no-rights", lambda: u_ch().queue_declare("amq.n-q"))
case("qdecl-amq-prefix-admin", lambda: chan().queue_declare("amq.n-q"))
case("qdecl-exclusive-other-conn", lambda: u_ch().queue_declare("crw-excl"))
case("qdecl-exclusive-other-conn-no-rights", lambda: u_ch().queue_declare("n-excl"))
case("qdecl-passive-exclusive-other-conn", lambda: u_ch().queue_declare("n-excl", passive=True))
# x-dead-letter-exchange: configure on Q, then read on Q, then write on the DLX (new queues only)
DLX = "x-dead-letter-exchange"
case("qdecl-dlx-ok", lambda: u_ch().queue_declare("cr-dq1", arguments={DLX: "w-dlx"}))
case("qdecl-dlx-no-read-on-q", lambda: u_ch().queue_declare("c-dq2", arguments={DLX: "w-dlx"}))
case("qdecl-dlx-no-write-on-dlx", lambda: u_ch().queue_declare("cr-dq3", arguments={DLX: "r-dlx"}))
case("qdecl-dlx-default-exchange", lambda: u_ch().queue_declare("cr-dq4", arguments={DLX: ""}))
case("qdecl-dlx-existing", lambda: u_ch().queue_declare("cr-dq1", arguments={DLX: "w-dlx"}))
case("qdecl-dlx-existing-no-read-no-write", lambda: u_ch().queue_declare("c-dlxq", arguments={DLX: "n-dlx"}))
# queue.delete
case("qdel-ok", lambda: u_ch().queue_delete("c-qdel"))
case("qdel-refused", lambda: u_ch().queue_delete("rw-q"))
case("qdel-missing-ok", lambda: u_ch().queue_delete("c-nosuch"))
case("qdel-missing-refused", lambda: u_ch().queue_delete("n-nosuch"))
# queue.purge
case("qpurge-ok", lambda: u_ch().queue_purge("r-q"))
case("qpurge-refused", lambda: u_ch().queue_purge("cw-q"))
case("qpurge-missing", lambda: u_ch().queue_purge("r-nosuch"))
case("qpurge-missing-refused", lambda: u_ch().queue_purge("n-nosuch"))

# queue.bind / queue.unbind: write on the queue, read on the exchange
case("qbind-ok", lambda: u_ch().queue_bind("w-q", "r-x", "k"))
case("qbind-no-write-on-q", lambda: u_ch().queue_bind("r-q", "r-x", "k"))
case("qbind-no-read-on-x", lambda: u_ch().queue_bind("w-q", "w-x", "k"))
case("qbind-neither", lambda: u_ch().queue_bind("r-q", "w-x", "k"))
case("qbind-default-exchange", lambda: u_ch().queue_bind("w-q", "", "k"))
case("qbind-default-exchange-no-write", lambda: u_ch().queue_bind("r-q", "", "k"))
case("qbind-missing-q", lambda: u_ch().queue_bind("w-nosuch", "r-x", "k"))
case("qbind-missing-x", lambda: u_ch().queue_bind("w-q", "r-nosuch", "k"))
case("qbind-missing-x-no-read", lambda: u_ch().queue_bind("w-q", "w-nosuch", "k"))
case("qunbind-ok", lambda: u_ch().queue_unbind("w-q", "r-x", "k"))
case("qunbind-no-write-on-q", lambda: u_ch().queue_unbind("r-q", "r-x", "k"))
case("qunbind-no-read-on-x", lambda: u_ch().queue_unbind("w-q", "w-x", "k"))
case("qunbind-missing-binding", lambda: u_ch().queue_unbind("w-q", "r-x", "nobinding"))
# exchange.bind / exchange.unbind: write on the destination, read on the source
case("xbind-ok", lambda: u_ch().exchange_bind("w-x", "r-x", "k"))
case("xbind-no-write-on-dest", lambda: u_ch().exchange_bind("r-x", "rw-x", "k"))
case("xbind-no-read-on-src", lambda: u_ch().exchange_bind("rw-x", "w-x", "k"))
case("xbind-default-src", lambda: u_ch().exchange_bind("w-x", "", "k"))
case("xbind-default-src-no-write", lambda: u_ch().exchange_bind("r-x", "", "k"))
case("xunbind-ok", lambda: u_ch().exchange_unbind("w-x", "r-x", "k"))
case("xunbind-no-write-on-dest", lambda: u_ch().exchange_unbind("r-x", "rw-x", "k"))
case("xunbind-no-read-on-src", lambda: u_ch().exchange_unbind("rw-x", "w-x", "k"))

# basic.publish: write on the exchange (checked before the exchange is looked up)
case("pub-ok", lambda: publish(u_ch(), "w-x", "k"))
case("pub-refused", lambda: publish(u_ch(), "r-x", "k"))
case("pub-default-refused", lambda: publish(u_ch(), "", "w-q"))
case("pub-default-ok", lambda: publish(chan("ap-g"), "", "w-q"))
case("pub-amq-default-by-name", lambda: publish(chan("ap-g"), "amq.default", "w-q"))
case("pub-missing-no-rights", lambda: publish(u_ch(), "n-nosuch", "k"))
case("pub-missing", lambda: publish(u_ch(), "w-nosuch", "k"))
case("pub-internal", lambda: publish(u_ch(), "w-int", "k"))
case("pub-user-id-match", lambda: publish(u_ch(), "w-x", "k", user_id="ap-u"))
case("pub-user-id-mismatch", lambda: publish(u_ch(), "w-x", "k", user_id="someone"))
case("pub-user-id-mismatch-no-write", lambda: publish(u_ch(), "r-x", "k", user_id="someone"))
# basic.get / basic.consume: read on the queue
case("get-ok", lambda: u_ch().basic_get("r-q"))
case("get-refused", lambda: u_ch().basic_get("w-q"))
case("get-missing", lambda: u_ch().basic_get("r-nosuch"))
case("get-missing-refused", lambda: u_ch().basic_get("n-nosuch"))
case("get-exclusive-other-conn", lambda: u_ch().basic_get("crw-excl"))
case("get-exclusive-other-conn-no-rights", lambda: u_ch().basic_get("n-excl"))
case("consume-ok", lambda: u_ch().basic_consume("r-q", lambda *a: None) and None)
case("consume-refused", lambda: u_ch().basic_consume("w-q", lambda *a: None) and None)
case("consume-missing", lambda: u_ch().basic_consume("r-nosuch", lambda *a: None) and None)

# ---------------------------------------------------------------------------------------------
# 2. Topic permissions (user ap-t: .* .* .* in ap-main; topic permissions:
#    tx: write ^{username}\.  read ^{vhost}\. ; tx3: write "" read .* ; dx (direct): ^nomatch$).

def t_ch():
    return chan("ap-t")


case("topic-pub-ok", lambda: publish(t_ch(), "tx", "ap-t.a"))
case("topic-pub-refused", lambda: publish(t_ch(), "tx", "other.a"))
case("topic-pub-literal-placeholder", lambda: publish(t_ch(), "tx", "{username}.a"))
case("topic-pub-vhost-var-not-in-write", lambda: publish(t_ch(), "tx", "ap-main.a"))
case("topic-bind-ok", lambda: t_ch().queue_bind("tq", "tx", "ap-main.#"))
case("topic-bind-refused", lambda: t_ch().queue_bind("tq", "tx", "ap-t.#"))
case("topic-unbind-refused", lambda: t_ch().queue_unbind("tq", "tx", "ap-t.#"))
case("topic-unbind-ok", lambda: t_ch().queue_unbind("tq", "tx", "ap-main.#"))
case("topic-xbind-src-refused", lambda: t_ch().exchange_bind("tx2", "tx", "ap-t.#"))
case("topic-xbind-src-ok", lambda: t_ch().exchange_bind("tx2", "tx", "ap-main.#"))
case("topic-xbind-dest-not-checked", lambda: t_ch().exchange_bind("tx", "tx2", "anything"))
case("topic-no-perms-on-exchange-pub", lambda: publish(t_ch(), "tx2", "anything"))
case("topic-no-perms-on-exchange-bind", lambda: t_ch().queue_bind("tq", "tx2", "anything"))
case("topic-direct-exchange-pub", lambda: publish(t_ch(), "dx", "x"))
case("topic-direct-exchange-bind", lambda: t_ch().queue_bind("tq", "dx", "x"))
case("topic-empty-pattern-empty-key", lambda: publish(t_ch(), "tx3", ""))
case("topic-empty-pattern-key", lambda: publish(t_ch(), "tx3", "a"))
case("topic-admin-unrestricted", lambda: publish(chan(), "tx", "other.a"))


def topic_cleared():
    ctl("topic-permissions", "clear", "ap-t", "tx", "--vhost", MAIN)
    c = connect("ap-t")
    try:
        publish(c.channel(), "tx", "other.a")
    finally:
        close_quietly(c)


case("topic-cleared-pub", topic_cleared)

# ---------------------------------------------------------------------------------------------
# 4. Vhost limits on ap-lim: {"max-connections": 2, "max-queues": 1}.

lim = {}


def lim_open(key, user=None):
    lim[key] = connect(user, vhost=LIM)


case("limit-conn-1", lambda: lim_open(1))
case("limit-conn-2", lambda: lim_open(2))
time.sleep(0.3)  # RabbitMQ tracks connections asynchronously (connection_created event)
case("limit-conn-3", lambda: lim_open(3))
case("limit-conn-no-perms-user", lambda: lim_open(4, "ap-u"))
case("limit-conn-bad-password", lambda: open_close(None, "wrong", LIM))


def lim_after_close():
    lim.pop(2).close()
    deadline = time.monotonic() + 3
    while True:  # RabbitMQ's connection tracking is updated asynchronously
        try:
            lim_open(2)
            return
        except (AMQPConnectionError, ConnectionClosed):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


case("limit-conn-after-close", lim_after_close)


def lim_ch():
    return lim[1].channel()


case("limit-queue-1", lambda: lim_ch().queue_declare("lq1"))
case("limit-queue-redeclare", lambda: lim_ch().queue_declare("lq1"))
case("limit-queue-2", lambda: lim_ch().queue_declare("lq2"))
case("limit-queue-server-named", lambda: lim_ch().queue_declare("", exclusive=True))
case("limit-queue-passive-missing", lambda: lim_ch().queue_declare("lq2", passive=True))
case("limit-queue-amq-prefix", lambda: lim_ch().queue_declare("amq.lq"))


def lim_after_delete():
    ch = lim_ch()
    ch.queue_delete("lq1")
    ch.queue_declare("lq2")


case("limit-queue-after-delete", lim_after_delete)


def lim_partial_update():
    # Setting only max-queues replaces the whole limits object: max-connections goes away.
    ctl("vhosts", "limits", LIM, '{"max-queues": -1}')
    lim_ch().queue_declare("lq3")


case("limit-queue-cleared", lim_partial_update)
case("limit-conn-after-partial-update", lambda: lim_open(3))
for c in lim.values():
    close_quietly(c)

# ---------------------------------------------------------------------------------------------
# 5. Lifecycle: permissions cleared / password changed / user deleted while connected,
#    vhost deleted while connected.

life = connect("ap-life")
busy = life.channel()    # kept busy (under 1 s idle) while permissions are cleared
idle = life.channel()    # left idle for 3 s after permissions are cleared
for ch in (busy, idle):
    ch.queue_declare("life-q")
life_t0 = time.monotonic()


def clear_while_busy():
    p = ctl_start("permissions", "clear", "ap-life", "--vhost", MAIN)
    while p.poll() is None:
        roundtrip(busy)
        time.sleep(0.05)
    ctl_wait(p)


case("life-clear-perms", clear_while_busy)
case("life-cleared-busy-channel-same-op", lambda: busy.queue_declare("life-q"))
# A broker without RabbitMQ's per-channel permission cache refuses the case above and closes the
# busy channel; the refusal of another operation is then shown on a new channel.
case("life-cleared-busy-channel-other-op", lambda: (busy if busy.is_open else life.channel()).basic_get("life-q"))
case("life-cleared-new-channel", lambda: life.channel().queue_declare("life-q"))
case("life-cleared-new-connection", lambda: open_close("ap-life"))


def idle_channel_later():
    time.sleep(max(0.0, 3.0 - (time.monotonic() - life_t0)))
    idle.queue_declare("life-q")


case("life-cleared-idle-channel-same-op", idle_channel_later)
case("life-cleared-connection-still-open", lambda: None if life.is_open else "closed")


def restore_and_change_password():
    ctl("permissions", "set", "ap-life", ".*", ".*", ".*", "--vhost", MAIN)
    ctl("users", "password", "ap-life", "pw-life-2")


case("life-restore-and-change-password", restore_and_change_password)
case("life-password-changed-connection-still-works", lambda: life.channel().queue_declare("life-q"))
case("life-password-changed-old-password", lambda: open_close("ap-life", "pw-life"))
life2 = None


def new_password_login():
    global life2
    life2 = connect("ap-life", "pw-life-2")


case("life-password-changed-new-password", new_password_login)


def user_deleted():
    ctl("users", "delete", "ap-life")
    return wait_for_close(life)


case("life-user-deleted", user_deleted)
case("life-user-deleted-second-connection", lambda: wait_for_close(life2) if life2 else "no-connection")
case("life-user-deleted-login", lambda: open_close("ap-life", "pw-life-2"))

case("perm-no-placeholder-expansion", lambda: chan("ap-adm", GONE).queue_declare("ap-adm-q"))
case("perm-placeholder-is-literal", lambda: chan("ap-adm", GONE).queue_declare("{username}-q"))
gone = None


def gone_open():
    global gone
    gone = connect(None, vhost=GONE)
    gone.channel().queue_declare("gone-q")


case("vhost-gone-open", gone_open)


def vhost_deleted():
    ctl("vhosts", "delete", GONE)
    try:
        return wait_for_close(gone) if gone else "no-connection"
    except ConnectionClosedByBroker as e:
        # RabbitMQ races two closers here ("vhost_deleted" and "vhost_down" events, each closing
        # the tracked connections): the text is "vhost 'ap-gone' is deleted" or "... is down",
        # roughly 5:3 in 16 tries. Report the deleted form for either.
        return f"{e.reply_code}\t" + e.reply_text.replace(f"vhost '{GONE}' is down",
                                                           f"vhost '{GONE}' is deleted")


case("vhost-deleted-while-connected", vhost_deleted)
case("vhost-deleted-reconnect", lambda: open_close(None, vhost=GONE))

# ---------------------------------------------------------------------------------------------
for c in list(_pool.values()) + [admin, life, life2, gone]:
    close_quietly(c)
cleanup()
sys.exit(0)
