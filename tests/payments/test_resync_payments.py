"""`resync_payments`: existing orders get their PaymentIntent and Charge mirrors from Stripe, every
attempt included, safely again and again."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
import stripe
from django.core.management import call_command

from orders.models import Fulfillment, Order
from payments.models import Charge, PaymentIntent
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def retry(emulator: Any, payment_intent_id: str, card: str) -> None:
    """The customer tries another card on the same PaymentIntent."""
    with contextlib.suppress(stripe.CardError):  # a decline: the charge is recorded at Stripe
        emulator.client().v1.payment_intents.confirm(payment_intent_id, {"payment_method": card})


def resync(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("resync_payments", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_orders_paid_before_the_mirrors_existed_get_every_attempt_mirrored(
    emulator: Any, pay: Callable[..., str]
) -> None:
    # given orders paid at Stripe before we kept mirrors (and whose success we even missed)
    retried = OrderFactory(payment_intent_id=None)
    pi_retried = pay(retried, card="pm_card_visa_chargeDeclinedInsufficientFunds")
    retry(emulator, pi_retried, "pm_card_chargeDeclinedExpiredCard")
    retry(emulator, pi_retried, "pm_card_visa")
    paid = OrderFactory(payment_intent_id=None)
    pi_paid = pay(paid)
    OrderFactory(payment_intent_id=None)  # never got as far as a PaymentIntent
    assert not PaymentIntent.objects.exists() and not Charge.objects.exists()

    # when the command runs
    out, err = resync()

    # then each order's PaymentIntent and all its attempts are mirrored
    assert out == "orders 2, payment intents synced 2, charges 4, failed 0"
    assert "Re-syncing payments" in err and "2/2" in err  # the progress bar
    attempts = Charge.objects.filter(order=retried)
    assert sorted((ch.status, ch.outcome_reason) for ch in attempts) == [
        ("failed", "expired_card"),
        ("failed", "insufficient_funds"),
        ("succeeded", ""),
    ]
    mirror = PaymentIntent.objects.get(stripe_id=pi_retried)
    assert {ch.payment_intent_id for ch in attempts} == {mirror.pk}
    assert (mirror.status, mirror.order_id) == ("succeeded", retried.pk)
    assert mirror.latest_charge_id == attempts.get(status="succeeded").stripe_id
    assert (
        PaymentIntent.objects.get(stripe_id=pi_paid).charges.get().balance_transaction_id.startswith("txn_")
    )
    # and the payments we had missed are applied, fulfilled once; the old declines change nothing
    for order in (retried, paid):
        order.refresh_from_db()
        assert order.status == Order.Status.FULFILLED
        assert Fulfillment.objects.filter(order=order).count() == 1

    # when it runs again, nothing is doubled
    rows = sorted(Charge.objects.values_list("stripe_id", "status", "amount_refunded"))
    assert resync()[0] == "orders 2, payment intents synced 2, charges 4, failed 0"
    assert sorted(Charge.objects.values_list("stripe_id", "status", "amount_refunded")) == rows
    assert PaymentIntent.objects.count() == 2
    assert Fulfillment.objects.count() == 2
    # and --missing skips the orders that have their mirror
    assert resync("--missing")[0] == "orders 0, payment intents synced 0, charges 0, failed 0"


def test_an_order_stripe_cannot_answer_for_is_reported_and_the_others_synced(pay: Callable[..., str]) -> None:
    lost = OrderFactory(payment_intent_id="pi_not_at_stripe")
    paid = OrderFactory(payment_intent_id=None)
    pay(paid)
    out, err = resync("--verbosity", "0")
    assert out == "orders 2, payment intents synced 1, charges 1, failed 1"
    assert f"not synced: {lost.number} pi_not_at_stripe (InvalidRequest)" in err
    assert "Re-syncing" not in err  # no bar when asked to be quiet
    assert PaymentIntent.objects.get().order == paid
