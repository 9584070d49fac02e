"""The disputes app's periodic tasks, created in code by a data migration (the same install
pattern as payments.schedules). Changing one here needs a new data migration that calls
`periodic_tasks_install` again."""

from __future__ import annotations

from typing import Any

PERIODIC_TASKS: list[dict[str, Any]] = [
    {
        "name": "disputes: warn before evidence deadlines",
        "task": "disputes.warn_deadlines",
        "every_seconds": 900,
    },
    {
        "name": "disputes: stage evidence whose task was lost",
        "task": "disputes.sweep_evidence",
        "every_seconds": 600,
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
