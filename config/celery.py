"""The Celery app. Tasks live in each app's tasks.py; schedules are created in code (see
`payments.schedules`), so a fresh database has them."""

import os

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
