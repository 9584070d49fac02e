"""Which failures are tried again, how often and when, and queuing the one-event task that does
it with backoff and jitter."""

from __future__ import annotations

from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError

from config.celery import task_send
from payments.models import StripeEvent
from payments.stripe_gateway import RateLimited, StripeUnavailable

# Attempts before an event is dead-lettered (the task's max_retries is the same number).
MAX_ATTEMPTS = 8
# Errors worth trying again: Stripe or the database not answering. Anything else is a bug or
# bad data, and goes straight to the dead letter for staff (retrying would not change it).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    StripeUnavailable,
    RateLimited,
    OperationalError,
    InterfaceError,
)
# The statuses of an event that is still to be processed (first time, or again).
OPEN_STATUSES = (StripeEvent.Status.PENDING, StripeEvent.Status.RETRYING)
# Exponential backoff with jitter between attempts, capped well under the re-queue job's
# threshold (payments.services.events.recovery.REQUEUE_AFTER).
RETRY_BACKOFF_MAX_SECONDS = 120
PROCESS_TASK = "payments.process_stripe_event"


def retry_countdown(retries: int) -> int:
    """Seconds before the next attempt: Celery's own exponential backoff with full jitter."""
    return get_exponential_backoff_interval(
        factor=1, retries=retries, maximum=RETRY_BACKOFF_MAX_SECONDS, full_jitter=True
    )


def stripe_event_retry_later(*, event_pk: int) -> None:
    """Give an event that failed with a transient error its own task, which Celery retries with
    backoff (published by name: services do not import the tasks module)."""
    task_send(name=PROCESS_TASK, args=(event_pk,), countdown=retry_countdown(0), retry=False)
