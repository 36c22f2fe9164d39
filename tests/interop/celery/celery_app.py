"""A Celery app for the interop test: the broker is the node on $BROKER_PORT, results go back over rpc://."""
import os

from celery import Celery

app = Celery(
    "broker_interop",
    broker=f"amqp://guest:guest@127.0.0.1:{os.environ['BROKER_PORT']}//",
    backend="rpc://",
)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=60,
)

# Attempts per key, kept by the (solo) worker process across retries.
attempts = {}


@app.task
def add(x, y):
    return x + y


@app.task(bind=True, max_retries=5)
def flaky(self, key):
    """Fails twice, retrying each time with a one-second countdown, then returns how often it ran."""
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise self.retry(countdown=1)
    return attempts[key]
