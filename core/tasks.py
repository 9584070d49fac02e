"""Celery tasks of what the apps share: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from core.wakeups import wakeups_sweep


@shared_task(name="core.sweep_wakeups", acks_late=True)
def sweep_wakeups() -> list[str]:
    return wakeups_sweep()
