"""Payout events dropped, duplicated (redelivered, or two Event objects for one change) and
reordered: the payout ends in the newest status it was told, and, once it is paid, in exactly
one reconciliation with the same numbers, however many times it was queued."""

import time
from typing import Any

import pytest
from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.models import StripeEvent
from reconciliation import tasks
from reconciliation.models import BalanceTransaction, Discrepancy, Payout
from tests.factories import event, event_id, stored_event
from tests.reconciliation.factories import (
    FakeStripe,
    capture_reconciliations,
    charge_txn,
    refund_txn,
    stripe_charge,
    stripe_payout,
    stripe_refund,
)

pytestmark = pytest.mark.django_db

T0 = int(time.time()) - 3600
# A payout's true history: (seconds after T0, event type, status, Stripe's reconciliation status).
STEPS: dict[str, tuple[int, str, str, str]] = {
    "created": (1, "payout.created", "pending", "not_applicable"),
    "updated": (2, "payout.updated", "in_transit", "in_progress"),
    "paid": (3, "payout.paid", "paid", "in_progress"),
    "completed": (4, "payout.reconciliation_completed", "paid", "completed"),
}


@st.composite
def deliveries(draw: Any) -> tuple[list[str], list[tuple[str, int]]]:
    received = draw(st.lists(st.sampled_from(list(STEPS)), unique=True))
    sends: list[tuple[str, int]] = []
    for step in received:
        # Each change may come as two Event objects (copy 0 and 1), each delivered 1–3 times.
        for copy in range(draw(st.integers(1, 2))):
            sends += [(step, copy)] * draw(st.integers(1, 3))
    return received, draw(st.permutations(sends))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_any_order_duplication_and_subset_of_payout_events_gives_one_reconciliation(
    case: tuple[list[str], list[tuple[str, int]]],
    process: Any,
    fake_stripe: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received, sends = case
    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)
    charge = stripe_charge(amount=5000)
    lines = [charge_txn(charge, fee=175), refund_txn(stripe_refund(amount=500, charge=charge["id"]))]
    payout = fake_stripe.add_payout(stripe_payout(amount=sum(line["net"] for line in lines)), lines)
    ids = {(step, copy): event_id() for step, copy in set(sends)}

    # when every delivery goes to the inbox (stored once per event id) and the worker
    for step, copy in sends:
        seconds, event_type, status, reconciliation = STEPS[step]
        obj = {**payout, "status": status, "reconciliation_status": reconciliation}
        if StripeEvent.objects.filter(stripe_id=ids[(step, copy)]).exists():
            continue  # a redelivery: the inbox stores nothing and queues nothing
        process(stored_event(event(event_type, obj, id=ids[(step, copy)], created=T0 + seconds)))
    # and the worker runs every reconciliation queued, and each once more (a redelivered message)
    with TestCase.captureOnCommitCallbacks(execute=True):
        for payout_id in queued * 2:
            tasks.reconcile_payout(payout_id)

    # then
    if not received:
        assert not Payout.objects.filter(stripe_id=payout["id"]).exists()
        return
    mirror = Payout.objects.get(stripe_id=payout["id"])
    newest = max(received, key=lambda step: STEPS[step][0])
    assert mirror.status == STEPS[newest][2]
    told_paid_and_listable = "completed" in received
    assert bool(queued) == told_paid_and_listable
    # (the fake is shared by every example: count this payout's listings only)
    assert fake_stripe.listed.count(payout["id"]) == (1 if told_paid_and_listable else 0)
    if told_paid_and_listable:
        assert (mirror.reconciled, mirror.unexplained, mirror.lines_count) == (True, 0, 3)
        assert BalanceTransaction.objects.filter(payout=mirror).count() == 3
    else:
        assert not mirror.reconciled and not BalanceTransaction.objects.filter(payout=mirror).exists()
    assert not Discrepancy.objects.filter(object_id=payout["id"]).exists()
