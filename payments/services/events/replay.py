"""Staff replay: events go back to pending with fresh attempts, and the drain is woken."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from payments.models import StripeEvent
from payments.services.events.wakeup import stripe_events_wake
from payments.services.staff import staff_action_record


def stripe_event_replay(*, events: Iterable[StripeEvent], actor: Any = None) -> int:
    """Staff replay: put the events back to pending with fresh attempts and wake the drain.
    Handlers are idempotent on the object, so replaying a processed event changes nothing
    that is already right."""
    count = 0
    with transaction.atomic():
        for event in events:
            StripeEvent.objects.filter(pk=event.pk).update(
                status=StripeEvent.Status.PENDING,
                attempts=0,
                last_error="",
                source=StripeEvent.Source.REPLAY,
                updated_at=timezone.now(),
            )
            staff_action_record(actor=actor, action="replay_event", target=event.stripe_id, outcome="queued")
            count += 1
        if count:
            transaction.on_commit(stripe_events_wake)
    return count
