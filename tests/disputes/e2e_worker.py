"""A real Celery worker for the disputes' end-to-end tests, unchanged but for one thing: what it
queues itself (the evidence task, hand-over drains, retries) stays on its own queue, E2E_QUEUE.

Run as `python -m tests.disputes.e2e_worker <celery worker args>`."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

from config.celery import app  # noqa: E402

if os.environ.get("E2E_QUEUE"):
    # Under the settings' own (CELERY_-namespaced) names: those are what the app reads.
    app.conf.update(
        CELERY_TASK_DEFAULT_QUEUE=os.environ["E2E_QUEUE"],
        CELERY_TASK_ROUTES={"*": {"queue": os.environ["E2E_QUEUE"]}},
    )

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
