"""Billing's periodic task, created by a data migration (the pattern of payments.schedules)."""

from __future__ import annotations

from typing import Any

PERIODIC_TASKS: list[dict[str, Any]] = [
    {
        "name": "billing: re-sync subscriptions and invoices from Stripe",
        "task": "billing.resync_subscriptions",
        "every_seconds": 900,
    },
    {
        "name": "billing: send dunning emails whose task was lost",
        "task": "billing.send_missed_notices",
        "every_seconds": 300,
    },
]


def periodic_tasks_install(apps: Any, schema_editor: Any = None) -> None:
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for spec in PERIODIC_TASKS:
        interval, _ = interval_model.objects.get_or_create(every=spec["every_seconds"], period="seconds")
        task_model.objects.update_or_create(
            name=spec["name"], defaults={"task": spec["task"], "interval": interval, "enabled": True}
        )


def periodic_tasks_remove(apps: Any, schema_editor: Any = None) -> None:
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    task_model.objects.filter(name__in=[spec["name"] for spec in PERIODIC_TASKS]).delete()
