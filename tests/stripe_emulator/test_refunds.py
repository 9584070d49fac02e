"""Refunds: full, partial, over-refund, refused cases, and the asynchronous refund cards."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe


def _paid(client: Any, card: str = "pm_card_visa", amount: int = 5000, **extra: Any) -> Any:
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "usd", "payment_method": card, "confirm": True, **extra}
    )


def test_full_refund_by_payment_intent(client: Any) -> None:
    pi = _paid(client)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "reason": "requested_by_customer"})
    assert refund.object == "refund" and refund.id.startswith("re_")
    assert refund.amount == 5000 and refund.status == "succeeded" and refund.charge == pi.latest_charge
    charge = client.v1.charges.retrieve(pi.latest_charge, params={"expand": ["refunds"]})
    assert charge.refunded is True and charge.amount_refunded == 5000
    assert [r.id for r in charge.refunds.data] == [refund.id]
    txn = client.v1.balance_transactions.retrieve(refund.balance_transaction)
    assert txn.amount == -5000 and txn.type == "refund"
    types = [e.type for e in client.v1.events.list(params={"limit": 2}).data]
    assert types == ["charge.refunded", "refund.created"]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"charge": pi.latest_charge})
    assert exc.value.code == "charge_already_refunded"


def test_partial_refunds_add_up_and_over_refund_is_refused(client: Any) -> None:
    pi = _paid(client)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    client.v1.refunds.create(params={"charge": pi.latest_charge, "amount": 1500})
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 2500 and charge.refunded is False
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 3000})
    assert exc.value.code == "amount_too_large"
    assert "greater than unrefunded amount on charge ($25.00)" in exc.value.user_message
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2500})
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.refunded is True and charge.amount_refunded == 5000
    refunds = client.v1.refunds.list(params={"payment_intent": pi.id})
    assert [r.amount for r in refunds.data] == [2500, 1500, 1000]


def test_refund_of_failed_or_uncaptured_charge_is_refused(client: Any) -> None:
    with pytest.raises(stripe.CardError) as exc:
        _paid(client, "pm_card_visa_chargeDeclined")
    failed_charge = exc.value.error.payment_intent.latest_charge
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"charge": failed_charge})
    held = _paid(client, capture_method="manual")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": held.id})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.refunds.create(params={"payment_intent": "pi_nope"})
    assert missing.value.http_status == 404


def _wait_status(client: Any, refund_id: str, status: str) -> Any:
    deadline = time.time() + 5
    while time.time() < deadline:
        refund = client.v1.refunds.retrieve(refund_id)
        if refund.status == status:
            return refund
        time.sleep(0.05)
    raise AssertionError(f"refund {refund_id} never reached {status}")


def test_pending_refund_card_settles_later(client: Any) -> None:
    pi = _paid(client, "pm_card_pendingRefund")
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert refund.status == "pending"
    _wait_status(client, refund.id, "succeeded")
    event = client.v1.events.list(params={"type": "refund.updated"}).data[0]
    assert event.data.object.status == "succeeded"
    assert event.data.previous_attributes.status == "pending"


def test_refund_fail_card_fails_later(client: Any) -> None:
    pi = _paid(client, "pm_card_refundFail")
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2000})
    assert refund.status == "succeeded"
    failed = _wait_status(client, refund.id, "failed")
    assert failed.failure_reason == "expired_or_canceled_card"
    assert client.v1.balance_transactions.retrieve(failed.failure_balance_transaction).amount == 2000
    assert client.v1.events.list(params={"type": "refund.failed"}).data[0].data.object.id == refund.id
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 0


def _available(client: Any, currency: str = "usd") -> int:
    return next(a.amount for a in client.v1.balance.retrieve().available if a.currency == currency)


def test_refund_failure_card_puts_the_money_back_in_the_balance(client: Any) -> None:
    # given a payment with the documented refund-failure card, entered as a raw number
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4000000000005126", "exp_month": 12, "exp_year": 2034}}
    )
    pi = _paid(client, pm.id)
    charge_net = client.v1.balance_transactions.list(params={"source": pi.latest_charge}).data[0].net
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 3000})
    assert refund.status == "succeeded" and _available(client) == -3000

    # when the refund fails
    failed = _wait_status(client, refund.id, "failed")

    # then its failure is reported and the money is back where it was
    assert failed.failure_reason == "expired_or_canceled_card"
    back = client.v1.balance_transactions.retrieve(failed.failure_balance_transaction)
    assert (back.type, back.reporting_category) == ("refund_failure", "refund_failure")
    assert (back.amount, back.net) == (3000, 3000)
    assert _available(client) == 0
    pending = next(a.amount for a in client.v1.balance.retrieve().pending if a.currency == "usd")
    assert pending == charge_net
    types = [e.type for e in client.v1.events.list(params={"limit": 10}).data]
    assert {"refund.failed", "charge.refund.updated", "refund.updated"} <= set(types)
    update = client.v1.events.list(params={"type": "charge.refund.updated"}).data[0]
    assert update.data.object.id == refund.id and update.data.previous_attributes.status == "succeeded"
    assert client.v1.charges.retrieve(pi.latest_charge).refunded is False


def test_refund_over_what_is_left_is_refused_and_changes_nothing(client: Any) -> None:
    pi = _paid(client, amount=5000)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 4000})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1001})
    assert exc.value.code == "amount_too_large" and exc.value.param == "amount"
    assert len(client.v1.refunds.list(params={"payment_intent": pi.id}).data) == 1
    assert _available(client) == -4000
