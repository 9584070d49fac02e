"""The periodic tasks, created in code (by migration payments 0002) so that a fresh database has
them. Changing one here needs a new data migration that calls `periodic_tasks_install` again."""

from __future__ import annotations

from typing import Any

PERIODIC_TASKS: list[dict[str, Any]] = [
    {
        "name": "payments: re-queue stale Stripe events",
        "task": "payments.requeue_stale_stripe_events",
        "every_seconds": 60,
    },
    {
        "name": "payments: recover missed Stripe events",
        "task": "payments.recover_missed_stripe_events",
        "every_seconds": 300,
    },
    {
        "name": "orders: send missed confirmation emails",
        "task": "orders.send_missed_confirmations",
        "every_seconds": 600,
    },
    {
        "name": "core: wake drains whose message was lost",
        "task": "core.sweep_wakeups",
        "every_seconds": 60,
    },
]


def periodic_tasks_install(apps: Any, schema_editor: Any = None) -> None:
    """Create or update the schedules (idempotent); usable with historical models."""
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
