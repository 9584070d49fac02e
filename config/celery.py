"""The Celery app. Tasks live in each app's tasks.py; schedules are created in code (see
`payments.schedules`), so a fresh database has them."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("payments_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
