"""Celery tasks: thin, take ids, call one service, safe to run twice.

`acks_late` (and the project's `task_reject_on_worker_lost`) leave the message on the broker when
a worker dies half-way, so it runs again; processing locks the event row and skips done events.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from payments.services.events import (
    stripe_event_process,
    stripe_event_recover,
    stripe_event_requeue_stale,
    stripe_events_drain,
)
from payments.services.events.retry import (
    MAX_ATTEMPTS,
    PROCESS_TASK,
    RETRY_BACKOFF_MAX_SECONDS,
    TRANSIENT_ERRORS,
)
from payments.services.events.wakeup import DRAIN_TASK


@shared_task(
    name=DRAIN_TASK,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_ATTEMPTS,
)
def drain_stripe_events() -> int:
    """The usual way events get processed: one message wakes it for a whole burst."""
    return stripe_events_drain()


@shared_task(
    name=PROCESS_TASK,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_ATTEMPTS,
)
def process_stripe_event(event_pk: int) -> str:
    """One event, on its own: the retries with backoff of an event that failed in a drain."""
    return stripe_event_process(event_pk=event_pk)


@shared_task(name="payments.requeue_stale_stripe_events", acks_late=True)
def requeue_stale_stripe_events() -> int:
    return stripe_event_requeue_stale()


@shared_task(name="payments.recover_missed_stripe_events", acks_late=True)
def recover_missed_stripe_events() -> int:
    return len(stripe_event_recover().recovered)
