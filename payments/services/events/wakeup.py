"""Waking the drain: one broker message per burst of stored events (core.wakeups).

The drain task is published by name, so services never import the tasks module (the tasks call
the services, not the other way round)."""

from __future__ import annotations

from config.celery import task_send
from core.wakeups import wake

DRAIN_WAKEUP = "stripe-events"
DRAIN_TASK = "payments.drain_stripe_events"


def stripe_events_wake() -> bool:
    """Make sure a pending event gets processed: wake the drain task, which processes every
    pending event in arrival order. A broker that is down loses nothing: the row stays pending
    and the re-queue job picks it up. False when the drain could not be queued."""
    return wake(name=DRAIN_WAKEUP, publish=stripe_events_drain_publish)


def stripe_events_drain_publish() -> None:
    task_send(name=DRAIN_TASK, retry=False)
