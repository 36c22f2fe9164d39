"""Runs a real Celery worker against the broker and checks countdown (ETA) and retries.

Usage: python3 roundtrip.py PORT   (exit 0 when everything checked out)
"""
import os
import subprocess
import sys
import time

os.environ["BROKER_PORT"] = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

from celery_app import add, app, flaky  # noqa: E402

worker = subprocess.Popen(
    [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo", "--concurrency=1",
     "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
    cwd=here, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
try:
    start = time.monotonic()
    assert add.delay(2, 3).get(timeout=60) == 5, "add"
    print(f"add: 5 after {time.monotonic() - start:.2f} s")

    start = time.monotonic()
    result = add.apply_async((20, 22), countdown=2)
    assert result.get(timeout=60) == 42, "countdown"
    waited = time.monotonic() - start
    assert waited >= 1.9, f"countdown=2 ran after {waited:.2f} s"
    print(f"countdown: ran after {waited:.2f} s")

    start = time.monotonic()
    runs = flaky.delay("k").get(timeout=60)
    waited = time.monotonic() - start
    assert runs == 3, f"flaky ran {runs} times"
    assert waited >= 1.9, f"two retries with countdown=1 done after {waited:.2f} s"
    print(f"retries: succeeded on run {runs} after {waited:.2f} s")
    print("OK")
finally:
    worker.terminate()
    try:
        out, _ = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        out, _ = worker.communicate()
    if out:
        print("worker output:\n" + out)
    app.close()
