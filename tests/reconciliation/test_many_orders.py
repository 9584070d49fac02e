"""200 orders with refunds and disputes, paid out over four days, with events dropped, repeated
and reordered: after the worker's processing and one ledger check, every payout is reconciled,
every line of a charge, refund or dispute is linked to its order, and nothing is unexplained.

Stripe here is the in-memory fake behind the gateway's functions; the same story against the
emulator with a real worker waits for the emulator's payouts (see the README)."""

import random
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import TestCase

from orders.models import Order
from payments.models import Refund, StripeEvent
from reconciliation import tasks
from reconciliation.models import BalanceTransaction, Discrepancy, Payout
from reconciliation.services.ledger import ledger_check
from tests.factories import OrderFactory, event, stored_event
from tests.reconciliation.factories import (
    DisputeFactory,
    FakeStripe,
    at,
    capture_reconciliations,
    charge_txn,
    dispute_txn,
    refund_txn,
    stripe_charge,
    stripe_dispute,
    stripe_payout,
    stripe_refund,
    stripe_txn,
)

pytestmark = pytest.mark.django_db

ORDERS = 200
DAYS = 4


def test_two_hundred_orders_paid_out_over_four_days_under_drops_and_duplicates_all_reconcile(
    process: Any, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(15)
    now = int(time.time())
    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)
    events: list[dict[str, Any]] = []
    lines_by_day: dict[int, list[dict[str, Any]]] = {day: [] for day in range(DAYS)}

    # given: Stripe's side of four days of trade
    orders = [OrderFactory(amount=1000 + 37 * i) for i in range(ORDERS)]
    refunded: dict[int, int] = {}
    for i, order in enumerate(orders):
        day = i % DAYS
        created = now - (DAYS - day) * 86400 + 3600
        charge = stripe_charge(
            amount=order.amount,
            payment_intent=order.payment_intent_id,
            metadata={"order_id": str(order.pk)},
            created=created,
        )
        fake_stripe.charges.append(charge)
        events.append(event("charge.succeeded", charge, created=created))
        lines_by_day[day].append(charge_txn(charge, fee=order.amount * 3 // 100 + 20))
        if i % 10 == 3:
            refund = stripe_refund(
                amount=500, charge=charge["id"], payment_intent=order.payment_intent_id, created=created + 600
            )
            fake_stripe.refunds.append(refund)
            events.append(event("refund.created", refund, created=created + 600))
            lines_by_day[day].append(refund_txn(refund))
            refunded[order.pk] = 500
        if i % 25 == 7:
            dispute = stripe_dispute(
                amount=order.amount,
                charge=charge["id"],
                payment_intent=order.payment_intent_id,
                created=created + 900,
            )
            fake_stripe.disputes.append(dispute)
            # The disputes app keeps its own mirror (not part of this test).
            DisputeFactory(
                stripe_id=dispute["id"],
                charge_id=charge["id"],
                payment_intent_id=order.payment_intent_id,
                amount=order.amount,
                stripe_created=at(created + 900),
            )
            lines_by_day[day].append(dispute_txn(dispute))
    payouts = []
    for day, lines in lines_by_day.items():
        lines.append(stripe_txn(amount=-200, type="stripe_fee", source=None, reporting_category="fee"))
        payout = stripe_payout(
            amount=sum(line["net"] for line in lines), created=now - (DAYS - day - 1) * 86400 + 60
        )
        payouts.append(fake_stripe.add_payout(payout, lines))
        if day != 1:  # every webhook of the second day's payout is lost
            events.append(event("payout.paid", payout, created=payout["created"]))

    # when: a fifth of the events never arrive, a fifth arrive twice, all out of order
    deliveries = []
    for payload in events:
        roll = rng.random()
        if roll < 0.2:
            continue
        deliveries += [payload] * (2 if roll > 0.8 else 1)
    rng.shuffle(deliveries)
    for payload in deliveries:
        if not StripeEvent.objects.filter(stripe_id=payload["id"]).exists():
            process(stored_event(payload))
    with TestCase.captureOnCommitCallbacks(execute=True):
        for payout_id in queued:
            tasks.reconcile_payout(payout_id)
        result = ledger_check(window=timedelta(days=DAYS + 1))

    # then: every payout adds up (the one we never heard of too), and every line of a charge,
    # refund or dispute has its order
    assert Payout.objects.count() == DAYS and result.payouts_reconciled >= 1
    assert list(Payout.objects.order_by().values_list("reconciled", "unexplained").distinct()) == [(True, 0)]
    sourced = BalanceTransaction.objects.exclude(type__in=["payout", "stripe_fee"])
    assert sourced.count() == ORDERS + len(refunded) + len(fake_stripe.disputes)
    assert not sourced.filter(order__isnull=True).exists()
    for line in sourced.filter(type="charge").select_related("order"):
        assert line.order is not None and line.amount == line.order.amount
    # every order is paid and fulfilled once, the refunds we never heard of were found
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) <= {
        Order.Status.FULFILLED,
        Order.Status.PARTIALLY_REFUNDED,
    }
    assert Refund.objects.filter(status="succeeded").count() == len(refunded)
    for pk, amount in refunded.items():
        assert Order.objects.get(pk=pk).amount_refunded == amount
    # nothing is left open; what the check fixed is recorded as auto-fixed
    assert not Discrepancy.objects.filter(status="open").exists()
    assert result.auto_fixed == Discrepancy.objects.filter(status="auto_fixed").count() > 0
