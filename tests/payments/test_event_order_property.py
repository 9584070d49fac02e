"""Order does not matter: any subset, order, duplication and doubling (two Event objects for one
change) of a payment's events ends in the state of the newest event of the subset, with exactly
one fulfillment when any of them says the payment succeeded, and none otherwise."""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Fulfillment, Order
from payments.models import StripeEvent
from payments.services.events.process import stripe_event_process
from payments.services.events.receive import stripe_event_envelope, stripe_event_record
from tests.factories import OrderFactory, charge, event, event_id, payment_intent

pytestmark = pytest.mark.django_db

T0 = int(time.time()) - 3600

# The status each kind of event implies for the order when it is the newest one we know.
PAID, FAILED, WAITING, CANCELED = "paid", "failed", "waiting", "canceled"
EXPECTED_STATUS = {
    PAID: Order.Status.FULFILLED,
    FAILED: Order.Status.PAYMENT_FAILED,
    WAITING: Order.Status.AWAITING_PAYMENT,
    CANCELED: Order.Status.CANCELED,
    "partial_refund": Order.Status.PARTIALLY_REFUNDED,
    "full_refund": Order.Status.REFUNDED,
}


def failed_pi(order: Order) -> dict[str, Any]:
    error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}
    return payment_intent(order, status="requires_payment_method", last_payment_error=error)


def failed_charge(order: Order) -> dict[str, Any]:
    return charge(order, status="failed", outcome={"reason": "insufficient_funds"})


# A payment's true history: (seconds after T0, what it means, event type, object builder).
Step = tuple[int, str, str, Callable[[Order], dict[str, Any]]]
STEPS: dict[str, Step] = {
    "action": (
        1,
        WAITING,
        "payment_intent.requires_action",
        lambda o: payment_intent(o, status="requires_action"),
    ),
    "failed": (2, FAILED, "payment_intent.payment_failed", failed_pi),
    "charge_failed": (2, FAILED, "charge.failed", failed_charge),
    "retry_action": (
        3,
        WAITING,
        "payment_intent.requires_action",
        lambda o: payment_intent(o, status="requires_action"),
    ),
    "processing": (4, WAITING, "payment_intent.processing", lambda o: payment_intent(o, status="processing")),
    "succeeded": (5, PAID, "payment_intent.succeeded", lambda o: payment_intent(o)),
    "charge_succeeded": (5, PAID, "charge.succeeded", lambda o: charge(o)),
    "partial_refund": (6, "partial_refund", "charge.refunded", lambda o: charge(o, amount_refunded=1000)),
    "full_refund": (
        7,
        "full_refund",
        "charge.refunded",
        lambda o: charge(o, amount_refunded=o.amount, refunded=True),
    ),
    "canceled": (5, CANCELED, "payment_intent.canceled", lambda o: payment_intent(o, status="canceled")),
}
HISTORIES = {
    "paid_then_refunded": [
        "action", "failed", "charge_failed", "retry_action", "processing", "succeeded", "charge_succeeded",
        "partial_refund", "full_refund",
    ],
    "declined": ["action", "failed", "charge_failed", "retry_action"],
    "abandoned": ["action", "failed", "charge_failed", "canceled"],
}  # fmt: skip


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, int]]]:
    """A history, the subset of it that reaches us, and the deliveries in any order: each entry
    is (step, copy) where copy 0 is the event, a repeated copy 0 a duplicate delivery and copy 1
    a second Event object for the same change."""
    history = HISTORIES[draw(st.sampled_from(sorted(HISTORIES)))]
    received = [step for step in history if draw(st.booleans())]
    sends: list[tuple[str, int]] = []
    for step in received:
        sends.append((step, 0))
        sends.extend((step, 0) for _ in range(draw(st.integers(0, 2))))
        if draw(st.booleans()):
            sends.append((step, 1))
    return received, draw(st.permutations(sends))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_any_order_duplication_and_subset_ends_in_the_newest_state_with_one_fulfillment(
    case: tuple[list[str], list[tuple[str, int]]], queued: list[None]
) -> None:
    received, sends = case
    order = OrderFactory(status=Order.Status.AWAITING_PAYMENT)
    ids = {(step, copy): event_id() for step, copy in set(sends)}

    # when every delivery goes through the real insert path and the worker's processing
    for step, copy in sends:
        seconds, _, event_type, build = STEPS[step]
        payload = event(event_type, build(order), id=ids[(step, copy)], created=T0 + seconds)
        envelope = stripe_event_envelope(event=payload, payload_text=json.dumps(payload))
        event_pk = stripe_event_record(envelope=envelope, source=StripeEvent.Source.WEBHOOK)
        if event_pk is not None:
            assert stripe_event_process(event_pk=event_pk) == StripeEvent.Status.PROCESSED

    # then
    order.refresh_from_db()
    paid = any(STEPS[step][1] in (PAID, "partial_refund", "full_refund") for step in received)
    assert Fulfillment.objects.filter(order=order).count() == (1 if paid else 0)
    if received:
        newest = max(received, key=lambda step: STEPS[step][0])
        assert order.status == EXPECTED_STATUS[STEPS[newest][1]]
    else:
        assert order.status == Order.Status.AWAITING_PAYMENT
    if order.status == Order.Status.PAYMENT_FAILED:
        assert order.last_decline_code == "insufficient_funds"
    refunds = [STEPS[step][1] for step in received if "refund" in STEPS[step][1]]
    expected_refunded = order.amount if "full_refund" in refunds else 1000 if refunds else 0
    assert order.amount_refunded == expected_refunded
    assert StripeEvent.objects.filter(stripe_id__in=ids.values()).count() == len(ids)
