#!/usr/bin/env python3
"""Checks a Grafana dashboard's PromQL with promtool; exits 1 on the first kind of error it finds.

    deploy/grafana/check-dashboard.py [DASHBOARD.json]                  # offline: parse every expression
    deploy/grafana/check-dashboard.py --server http://127.0.0.1:9090   # + run each one on a Prometheus

Offline (needs only promtool: apt-get install prometheus):
  - the file is valid JSON, has the ${DS_PROMETHEUS} input and every panel, target and query
    variable uses that data source;
  - every `expr` of every panel (rows included) and every query variable's selector
    (label_values(SELECTOR, label)) has its Grafana variables replaced ($__rate_interval by 1m,
    $node by its "All" value...; an undefined variable is an error) and is parsed by promtool: each
    one becomes a recording rule of its own group in a temporary rules file and
    `promtool check rules` must accept the file (there is no offline "parse this PromQL" command);
  - every metric name in the expressions is one the broker exports (KNOWN_METRICS below: update it
    when the broker exports a new metric), so a typo in a name does not go unnoticed as an empty panel.
With --server URL, every expression is also run with `promtool query instant URL EXPR`: a query the
server refuses (a syntax error, a many-to-many join...) is an error; one that returns nothing is
reported (an error with --require-data). Variables without an "All" value (the cluster) take the
first value the server has, or --var NAME=VALUE.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

GAUGES = """rabbitmq_identity_info rabbitmq_build_info rabbitmq_connections rabbitmq_channels
rabbitmq_consumers rabbitmq_queues rabbitmq_global_publishers rabbitmq_global_consumers
rabbitmq_process_resident_memory_bytes rabbitmq_process_open_fds rabbitmq_process_max_fds
rabbitmq_queue_messages_ready rabbitmq_queue_messages_unacked rabbitmq_queue_messages
rabbitmq_queue_consumers""".split()
COUNTERS = """rabbitmq_connections_opened_total rabbitmq_connections_closed_total
rabbitmq_channels_opened_total rabbitmq_channels_closed_total rabbitmq_queues_declared_total
rabbitmq_queues_created_total rabbitmq_queues_deleted_total rabbitmq_global_messages_received_total
rabbitmq_global_messages_received_confirm_total rabbitmq_global_messages_routed_total
rabbitmq_global_messages_unroutable_dropped_total rabbitmq_global_messages_unroutable_returned_total
rabbitmq_global_messages_confirmed_total rabbitmq_global_messages_delivered_total
rabbitmq_global_messages_delivered_consume_manual_ack_total
rabbitmq_global_messages_delivered_consume_auto_ack_total
rabbitmq_global_messages_delivered_get_manual_ack_total
rabbitmq_global_messages_delivered_get_auto_ack_total rabbitmq_global_messages_get_empty_total
rabbitmq_global_messages_redelivered_total rabbitmq_global_messages_acknowledged_total
rabbitmq_queue_messages_published_total""".split()
HISTOGRAMS = ["broker_journal_write_seconds"]
KNOWN_METRICS = set(GAUGES) | set(COUNTERS) | {
    h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")} | {"up"}
# Label names that look like metric names.
KNOWN_LABELS = {"rabbitmq_node", "rabbitmq_cluster"}

# Grafana's built-in variables, with values that make a valid expression.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__interval_ms": "15000",
            "__range_s": "3600", "__range_ms": "3600000"}
VAR_RE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$", re.S)
DS_UID = "${DS_PROMETHEUS}"


class Failure(Exception):
    pass


def panels_of(panels):
    for p in panels:
        yield p
        yield from panels_of(p.get("panels", []))


def ds_uid(ds):
    return ds.get("uid") if isinstance(ds, dict) else ds


def collect(dash, errors):
    """(where, expr) for every panel target and query variable; structural errors go to errors."""
    exprs = []
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("type") == "datasource"
               for i in dash.get("__inputs", [])):
        errors.append("no __inputs entry DS_PROMETHEUS (type datasource)")
    ids = {}
    for p in panels_of(dash.get("panels", [])):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            errors.append(f"{where}: id {p.get('id')} also used by {ids[p.get('id')]}")
        ids[p.get("id")] = where
        if p.get("type") == "row":
            continue
        if "gridPos" not in p:
            errors.append(f"{where}: no gridPos")
        if ds_uid(p.get("datasource")) != DS_UID:
            errors.append(f"{where}: datasource is {p.get('datasource')!r}, not {DS_UID}")
        targets = p.get("targets", [])
        if not targets:
            errors.append(f"{where}: no targets")
        for t in targets:
            if "datasource" in t and ds_uid(t["datasource"]) != DS_UID:
                errors.append(f"{where} {t.get('refId')}: datasource is not {DS_UID}")
            if not t.get("expr", "").strip():
                errors.append(f"{where} {t.get('refId')}: empty expr")
                continue
            exprs.append((f"{where} {t.get('refId')}", t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        where = f"variable {v.get('name')}"
        if ds_uid(v.get("datasource")) != DS_UID:
            errors.append(f"{where}: datasource is not {DS_UID}")
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = LABEL_VALUES_RE.match(q)
        if m:
            exprs.append((where, m.group(1)))
        elif q.startswith("query_result("):
            exprs.append((where, q[len("query_result("):-1]))
        else:
            errors.append(f"{where}: query {q!r} is not label_values(SELECTOR, label) or query_result(EXPR)")
    return exprs


def substitute(expr, values):
    undefined = []

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in values:
            return values[name]
        undefined.append(name)
        return m.group(0)

    out = VAR_RE.sub(repl, expr)
    return out, undefined


def metric_names(expr):
    """Identifiers in expr that look like the broker's metrics (string literals removed)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(re.findall(r"\b((?:rabbitmq|broker)_[a-zA-Z0-9_]+)\b", bare)) - KNOWN_LABELS


def promtool_check(promtool, items):
    """Parses every expression: one recording rule per group; JSON is valid YAML for promtool."""
    groups = [{"name": f"{i:03d} {where}", "rules": [{"record": f"dashboard:check_{i:03d}", "expr": expr}]}
              for i, (where, expr) in enumerate(items)]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dashboard-rules.yml")
        with open(path, "w") as f:
            json.dump({"groups": groups}, f, indent=1)
        r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure("promtool check rules refused expressions:\n" + (r.stdout + r.stderr).strip())


def query(promtool, server, expr):
    r = subprocess.run([promtool, "query", "instant", "-o", "json", server, expr], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure((r.stderr or r.stdout).strip())
    out = r.stdout.strip()
    return json.loads(out) if out else []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dashboard", nargs="?",
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "broker-overview.json"))
    ap.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    ap.add_argument("--server", help="also run every expression on this Prometheus (http://host:9090)")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="value of a dashboard variable (default: its All value, or with --server the first value found)")
    ap.add_argument("--require-data", action="store_true", help="with --server: an empty result is an error")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    if not os.access(a.promtool, os.X_OK):
        print(f"promtool not found ({a.promtool}): apt-get install prometheus, or pass --promtool", file=sys.stderr)
        return 2
    try:
        with open(a.dashboard) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL {a.dashboard}: {e}", file=sys.stderr)
        return 1

    errors = []
    items = collect(dash, errors)
    given = dict(kv.split("=", 1) for kv in a.var)
    values = {}
    for v in dash.get("templating", {}).get("list", []):
        name = v.get("name")
        if name in given:
            values[name] = given[name]
        elif v.get("includeAll"):
            values[name] = v.get("allValue") or ".*"
        elif v.get("type") == "query" and a.server:
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = LABEL_VALUES_RE.match(q)
            found = None
            if m:
                sel, _ = substitute(m.group(1), values)
                try:
                    res = query(a.promtool, a.server, f"count by ({m.group(2)}) ({sel})")
                    found = sorted(s["metric"].get(m.group(2), "") for s in res)[:1]
                except Failure as e:
                    errors.append(f"variable {name}: {e}")
            values[name] = found[0] if found else "placeholder"
            if a.verbose:
                print(f"variable {name} = {values[name]!r}")
        else:
            values[name] = "placeholder"

    resolved = []
    for where, expr in items:
        e, undefined = substitute(expr, values)
        if undefined:
            errors.append(f"{where}: undefined variable(s) {', '.join(sorted(set(undefined)))}")
        unknown = metric_names(e) - KNOWN_METRICS
        if unknown:
            errors.append(f"{where}: unknown metric(s) {', '.join(sorted(unknown))}")
        resolved.append((where, e))

    try:
        promtool_check(a.promtool, resolved)
    except Failure as e:
        errors.append(str(e))

    empty = []
    if a.server and not errors:
        for where, e in resolved:
            try:
                res = query(a.promtool, a.server, e)
            except Failure as ex:
                errors.append(f"{where}: the server refused it: {ex}\n    {e}")
                continue
            n = len(res) if isinstance(res, list) else 1
            if a.verbose:
                print(f"{n:4d} series  {where}")
            if n == 0:
                empty.append(where)
        for where in empty:
            print(f"{'FAIL' if a.require_data else 'note'} {where}: no data", file=sys.stderr)
        if a.require_data and empty:
            errors.append(f"{len(empty)} expression(s) returned no data")

    for err in errors:
        print(f"FAIL {err}", file=sys.stderr)
    if errors:
        return 1
    print(f"OK {a.dashboard}: {len(resolved)} expressions parsed by promtool"
          + (f", run on {a.server} ({len(resolved) - len(empty)} with data)" if a.server else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
