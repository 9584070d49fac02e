"""A real Celery worker for the fault tests, with one test-only hook and nothing else changed:
when E2E_CRASH_MARKER names a file that exists, the first `payment_intent.succeeded` handler to
run deletes it and kills its process half-way (after its writes, before its commit).

Run as `python -m tests.payments.e2e_worker <celery worker args>`."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

from config.celery import app  # noqa: E402
from payments import handlers  # noqa: E402

if os.environ.get("E2E_QUEUE"):
    # Everything this worker queues itself (hand-over drains, retries, emails) stays on its queue.
    app.conf.task_default_queue = os.environ["E2E_QUEUE"]
    app.conf.task_routes = {"*": {"queue": os.environ["E2E_QUEUE"]}}
    # The Django settings' CELERY_ keys shadow the attributes above (tests/browser/conftest.py):
    # without these, the emails the worker queues go to the `emails` queue nobody here consumes.
    app.conf["CELERY_TASK_ROUTES"] = {"*": {"queue": os.environ["E2E_QUEUE"]}}
    if "CELERY_TASK_DEFAULT_QUEUE" in app.conf:
        app.conf["CELERY_TASK_DEFAULT_QUEUE"] = os.environ["E2E_QUEUE"]

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
