"""Order does not matter: any subset, order, duplication and doubling (two Event objects for one
change) of a payment's events ends in the state of the newest event of the subset, with exactly
one fulfillment when any of them says the payment succeeded, and none otherwise. The same holds
for the mirrors: the PaymentIntent and each charge attempt end in the state of their newest
snapshot received."""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Fulfillment, Order
from payments.models import Charge, PaymentIntent, StripeEvent
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


def failed_charge_id(order: Order) -> str:
    return f"ch_failed_{order.payment_intent_id}"


def failed_pi(order: Order) -> dict[str, Any]:
    error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}
    return payment_intent(
        order,
        status="requires_payment_method",
        last_payment_error=error,
        latest_charge=failed_charge_id(order),
    )


def failed_charge(order: Order) -> dict[str, Any]:
    # The first attempt is a charge of its own: every attempt is a row.
    return charge(
        order, id=failed_charge_id(order), status="failed", outcome={"reason": "insufficient_funds"}
    )


# A payment's true history: (seconds after T0, what it means, event type, object builder).
Step = tuple[int, str, str, Callable[[Order], dict[str, Any]]]
STEPS: dict[str, Step] = {
    # routed for the mirror only: the order keeps what it had
    "created": (
        0,
        WAITING,
        "payment_intent.created",
        lambda o: payment_intent(o, status="requires_payment_method"),
    ),
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
        "created", "action", "failed", "charge_failed", "retry_action", "processing", "succeeded",
        "charge_succeeded", "partial_refund", "full_refund",
    ],
    "declined": ["created", "action", "failed", "charge_failed", "retry_action"],
    "abandoned": ["created", "action", "failed", "charge_failed", "canceled"],
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

    # and the mirrors are in the state of their newest snapshot received
    assert_mirrors_newest(order, received)


def assert_mirrors_newest(order: Order, received: list[str]) -> None:
    snapshots = {step: STEPS[step][3](order) for step in received}
    newest_pi = max(
        (step for step in received if snapshots[step]["object"] == "payment_intent"),
        key=lambda step: STEPS[step][0],
        default=None,
    )
    mirror = PaymentIntent.objects.filter(stripe_id=order.payment_intent_id).first()
    if newest_pi is None:
        assert mirror is None
    else:
        expected = snapshots[newest_pi]
        assert mirror is not None
        assert (mirror.status, mirror.status_at) == (expected["status"], T0 + STEPS[newest_pi][0])
        assert mirror.latest_charge_id == (expected["latest_charge"] or "")
        error = expected["last_payment_error"] or {}
        assert mirror.last_error_decline_code == error.get("decline_code", "")
        assert mirror.order_id == order.pk
    charges = [step for step in received if snapshots[step]["object"] == "charge"]
    expected_charges: dict[str, str] = {}
    for step in sorted(charges, key=lambda step: STEPS[step][0]):
        expected_charges[snapshots[step]["id"]] = step  # the newest snapshot of each charge wins
    # (the examples share one database transaction: other examples' orders have charges too)
    mine = Charge.objects.filter(Q(order=order) | Q(payment_intent_stripe_id=order.payment_intent_id))
    rows = {row.stripe_id: row for row in mine}
    assert set(rows) == set(expected_charges)
    for charge_id, step in expected_charges.items():
        row, expected = rows[charge_id], snapshots[step]
        assert (row.status, row.status_at) == (expected["status"], T0 + STEPS[step][0])
        assert (row.amount_refunded, row.refunded) == (expected["amount_refunded"], expected["refunded"])
        assert row.outcome_reason == ((expected.get("outcome") or {}).get("reason") or "")
        assert row.order_id == order.pk
        # linked to its PaymentIntent as soon as we have that one, whichever came first
        assert row.payment_intent_id == (mirror.pk if mirror else None)
