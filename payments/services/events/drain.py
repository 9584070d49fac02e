"""The drain: the usual way stored events get processed. One task, woken once per burst, walks
the pending events in arrival order, a page per transaction."""

from __future__ import annotations

import logging

from django.db import transaction

from core.wakeups import wakeup_release
from payments.models import StripeEvent
from payments.services.events.process import stripe_event_handle, stripe_event_process
from payments.services.events.retry import stripe_event_retry_later
from payments.services.events.wakeup import DRAIN_WAKEUP, stripe_events_wake

logger = logging.getLogger(__name__)

# Events one drain task processes before it hands over to a fresh task (so the worker gets to
# other tasks, and a redelivered message after a crash redoes little), and per transaction.
DRAIN_LIMIT = 1000
DRAIN_PAGE = 50


def stripe_events_drain(*, limit: int = DRAIN_LIMIT) -> int:
    """Process the pending events in arrival order, a page per transaction; returns how many it
    took.

    It deletes the wake-up row before it looks: an event stored after that either is seen here or
    adds the row again and queues the next drain. A full first page means a backlog: it wakes a
    second drain to share it (the wake-up row keeps that to one waiting drain at a time)."""
    wakeup_release(name=DRAIN_WAKEUP)
    done, last_pk = 0, 0
    while done < limit:
        pks = _drain_page(after=last_pk)
        if not pks:
            return done
        if done == 0 and len(pks) == DRAIN_PAGE:
            stripe_events_wake()
        done += len(pks)
        last_pk = pks[-1]
    stripe_events_wake()  # more may be waiting: hand over to a fresh task
    return done


def _drain_page(*, after: int) -> list[int]:
    """Lock the next page of pending events (`FOR UPDATE SKIP LOCKED`: drains and per-event
    tasks running at once take disjoint rows) and process them in one transaction, one commit
    for the page. If any of them fails, the page is undone and its events are taken one at a
    time, each in its own transaction, so the failure is recorded against the event that caused
    it; an event that failed with a transient error gets its own task with backoff."""
    pks: list[int] = []
    try:
        with transaction.atomic():
            page = list(
                StripeEvent.objects.select_for_update(skip_locked=True)
                .filter(status=StripeEvent.Status.PENDING, pk__gt=after)
                .order_by("pk")[:DRAIN_PAGE]
            )
            pks = [event.pk for event in page]
            for event in page:
                stripe_event_handle(event=event)
        return pks
    except Exception:
        if not pks:
            raise  # the page could not even be read: the database is down, the task retries
    for pk in pks:
        try:
            stripe_event_process(event_pk=pk, skip_locked=True)
        except Exception:
            try:
                stripe_event_retry_later(event_pk=pk)
            except Exception as error:
                logger.warning("stripe event %s retry not queued (%s)", pk, type(error).__name__)
    return pks
