"""The Celery app. Tasks live in each app's tasks.py; schedules are created in code (see
`payments.schedules`), so a fresh database has them."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

from core.context import task_finished, task_started

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("payments_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every log line of a task carries its id (core.context).
task_prerun.connect(task_started, weak=False)
task_postrun.connect(task_finished, weak=False)


def task_send(*, name: str, **options: Any) -> None:
    """Queue the task called `name` (`args`, `countdown`, `retry` and the other `apply_async`
    options), without importing the module that defines it: the tasks call the services, so
    the services must not import the tasks. `send_task` alone ignores `task_always_eager`; under
    it (the browser tests) the task runs at once, as `apply_async` would run it."""
    if app.conf.task_always_eager:
        if name not in app.tasks:
            app.loader.import_default_modules()  # registers every app's tasks (autodiscovery)
        app.tasks[name].apply_async(**options)
        return
    app.send_task(name, **options)
