"""Order does not matter: any order and duplication of a dispute's events ends in the state of
the most advanced one (a closed dispute is final), with the order disputed and one "opened"
alert however often the creation is delivered."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disputes.models import Dispute
from disputes.services import sync
from orders.models import Order
from payments.services.events import wakeup
from payments.services.events.process import stripe_event_process
from tests.disputes.factories import NOW, ChargeFactory, dispute_object, paid_order
from tests.factories import event, stored_event

pytestmark = pytest.mark.django_db

# The life of one dispute, in Stripe's order: (event type, status, seconds after opening).
LIFE = [
    ("charge.dispute.created", "needs_response", 0),
    ("charge.dispute.funds_withdrawn", "needs_response", 1),
    ("charge.dispute.updated", "under_review", 2),
    ("charge.dispute.closed", "won", 3),
    ("charge.dispute.funds_reinstated", "won", 4),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    deliveries=st.lists(st.integers(min_value=0, max_value=len(LIFE) - 1), min_size=1, max_size=8),
)
def test_any_order_and_duplication_ends_in_the_most_advanced_state(
    deliveries: list[int], alert_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", lambda: None)
    # the evidence task is not under test here
    monkeypatch.setattr(sync, "task_send", lambda **options: None)
    mail.outbox.clear()
    order = paid_order()
    charge = ChargeFactory(order=order)
    base = dispute_object(charge)
    for index in deliveries:
        kind, status, offset = LIFE[index]
        payload = event(kind, {**base, "status": status}, created=NOW - 100 + offset)
        row = stored_event(payload)
        with TestCase.captureOnCommitCallbacks(execute=True):
            stripe_event_process(event_pk=row.pk)

    newest = max(deliveries, key=lambda i: (LIFE[i][1] == "won", LIFE[i][1] == "under_review", LIFE[i][2]))
    dispute = Dispute.objects.get(stripe_id=base["id"])
    assert dispute.status == LIFE[newest][1]
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    opened = [m for m in mail.outbox if "opened" in m.subject]
    assert len(opened) == 1
    closed = [m for m in mail.outbox if "closed" in m.subject]
    assert len(closed) == (1 if dispute.status == "won" else 0)
