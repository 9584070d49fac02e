"""A real Celery worker for the fault tests, with two test-only hooks and nothing else changed:
when E2E_CRASH_MARKER names a file that exists, the first `payment_intent.succeeded` handler to
run deletes it and kills its process half-way (after its writes, before its commit); and
E2E_DRAIN_LIMIT makes each drain hand over after that many events (instead of 1,000), so a
stop in the middle of a backlog finds a hand-over message in flight.

Run as `python -m tests.payments.e2e_worker <celery worker args>`."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

import functools  # noqa: E402

from config.celery import app  # noqa: E402
from payments import handlers, tasks  # noqa: E402

if os.environ.get("E2E_QUEUE"):
    # Everything this worker queues itself (hand-over drains, retries, emails) stays on its queue.
    # Set under the settings' own (CELERY_-namespaced) names: those are what the app reads.
    app.conf.update(
        CELERY_TASK_DEFAULT_QUEUE=os.environ["E2E_QUEUE"],
        CELERY_TASK_ROUTES={"*": {"queue": os.environ["E2E_QUEUE"]}},
    )

if os.environ.get("E2E_DRAIN_LIMIT"):
    tasks.stripe_events_drain = functools.partial(  # type: ignore[assignment]
        tasks.stripe_events_drain, limit=int(os.environ["E2E_DRAIN_LIMIT"])
    )

marker = os.environ.get("E2E_CRASH_MARKER")
if marker:
    original = handlers.HANDLERS["payment_intent.succeeded"]

    def crash_once(event):  # type: ignore[no-untyped-def]
        result = original(event)
        try:
            os.remove(marker)
        except FileNotFoundError:
            return result
        os._exit(1)  # the worker process dies mid-transaction: nothing it wrote is committed

    handlers.HANDLERS["payment_intent.succeeded"] = crash_once

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
