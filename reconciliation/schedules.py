"""The reconciliation's periodic tasks, created in code by a data migration (reconciliation 0003),
the same way as payments.schedules. Changing one here needs a new data migration that calls
`periodic_tasks_install` again."""

from __future__ import annotations

from typing import Any

# The ledger check runs nightly at 03:15 UTC over the last two days; the payout sweep hourly
# reconciles any paid payout whose task was lost (a broker down, a worker killed).
CRONTAB_TASKS: list[dict[str, Any]] = [
    {
        "name": "reconciliation: nightly ledger check",
        "task": "reconciliation.reconcile_ledger",
        "minute": "15",
        "hour": "3",
    },
]
INTERVAL_TASKS: list[dict[str, Any]] = [
    {
        "name": "reconciliation: reconcile paid payouts not reconciled yet",
        "task": "reconciliation.reconcile_pending_payouts",
        "every_seconds": 3600,
    },
]


def periodic_tasks_install(apps: Any, schema_editor: Any = None) -> None:
    """Create or update the schedules (idempotent); usable with historical models."""
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for spec in CRONTAB_TASKS:
        crontab, _ = crontab_model.objects.get_or_create(
            minute=spec["minute"],
            hour=spec["hour"],
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        task_model.objects.update_or_create(
            name=spec["name"],
            defaults={"task": spec["task"], "crontab": crontab, "interval": None, "enabled": True},
        )
    for spec in INTERVAL_TASKS:
        interval, _ = interval_model.objects.get_or_create(every=spec["every_seconds"], period="seconds")
        task_model.objects.update_or_create(
            name=spec["name"],
            defaults={"task": spec["task"], "interval": interval, "crontab": None, "enabled": True},
        )


def periodic_tasks_remove(apps: Any, schema_editor: Any = None) -> None:
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    names = [spec["name"] for spec in CRONTAB_TASKS + INTERVAL_TASKS]
    task_model.objects.filter(name__in=names).delete()
