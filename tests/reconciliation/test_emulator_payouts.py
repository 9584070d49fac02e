"""The reconciliation's gateway functions against the Stripe emulator (the SDK over HTTP, not a
fake): payouts, their balance transactions with sources expanded, and the ledger check's lists;
then a real emulator payout reconciled to the penny, every line linked to its order."""

from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.roles import FINANCE
from orders.models import Order
from payments import stripe_gateway
from reconciliation.models import BalanceTransaction, Payout
from reconciliation.services.payouts import payout_reconcile, payout_sync
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

DAY = 86_400


def us_card_fee(amount: int) -> int:
    """Stripe's UK pricing for a non-EEA card (pm_card_visa is a US card): 3.25% half up + 20p."""
    return (amount * 325 + 5_000) // 10_000 + 20


def finance_client() -> APIClient:
    user = User.objects.create_user(username="finance", password="pw", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=FINANCE)[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def paid_out(emulator: Any, pay: Any, *, amounts: list[int], refund: int) -> tuple[list[Order], str, str]:
    """Orders paid with pm_card_visa, a partial refund of the first, then the clock moved on
    until the automatic payout over them is paid. Returns (orders, refund id, payout id)."""
    orders = [OrderFactory(payment_intent_id=None, amount=amount) for amount in amounts]
    for order in orders:
        pay(order, "pm_card_visa")
        order.refresh_from_db()
    client = emulator.client()
    refunded = client.v1.refunds.create(
        params={"payment_intent": orders[0].payment_intent_id, "amount": refund},
        options={"idempotency_key": f"order:{orders[0].pk}:refund:test:v1"},
    )
    # Available 2 days later at 00:00 UTC, paid out at the next 00:00, in transit an hour, paid
    # the day after: five days covers it from any hour.
    emulator.advance_clock(5 * DAY)
    payouts = [p for p in client.v1.payouts.list(params={"limit": 100}).data if p.automatic]
    assert len(payouts) == 1, [p.id for p in payouts]
    return orders, refunded.id, payouts[0].id


def test_the_gateways_reconciliation_lists_work_against_the_emulator(emulator: Any, pay: Any) -> None:
    orders, refund_id, payout_id = paid_out(emulator, pay, amounts=[4200, 1999], refund=700)
    since = 0

    payout = stripe_gateway.payout_retrieve(payout_id=payout_id)
    assert (payout["id"], payout["status"], payout["automatic"]) == (payout_id, "paid", True)
    assert payout["reconciliation_status"] == "completed"
    assert [p["id"] for p in stripe_gateway.payout_list(since=since)] == [payout_id]

    lines = list(stripe_gateway.balance_transaction_list(payout_id=payout_id))
    types = Counter(line["type"] for line in lines)
    assert types == {"charge": 2, "refund": 1, "payout": 1}
    assert sum(line["net"] for line in lines) == 0  # the payout's own line takes it all
    assert sum(line["net"] for line in lines if line["type"] != "payout") == payout["amount"]
    sources = {line["type"]: line["source"] for line in lines if line["type"] != "payout"}
    assert sources["charge"]["object"] == "charge"  # expanded, a plain dict
    assert sources["refund"]["id"] == refund_id

    charges = list(stripe_gateway.charge_list(since=since))
    assert {c["payment_intent"] for c in charges} == {o.payment_intent_id for o in orders}
    assert [r["id"] for r in stripe_gateway.refund_list(since=since)] == [refund_id]
    assert list(stripe_gateway.dispute_list(since=since)) == []


def test_a_real_emulator_payout_reconciles_to_the_penny_with_every_line_linked_to_its_order(
    emulator: Any, pay: Any
) -> None:
    orders, refund_id, payout_id = paid_out(emulator, pay, amounts=[4200, 1999, 12_345], refund=1500)
    payout_sync(obj=stripe_gateway.payout_retrieve(payout_id=payout_id), source="test")

    result = payout_reconcile(payout_id=payout_id)

    assert result.reconciled and result.unexplained == 0 and result.lines == 5
    rows = BalanceTransaction.objects.filter(payout__stripe_id=payout_id)
    by_type = {t: list(rows.filter(type=t)) for t in ("charge", "refund", "payout")}
    assert {r.order_id for r in by_type["charge"]} == {o.pk for o in orders}
    assert [(r.source_id, r.order_id, r.amount) for r in by_type["refund"]] == [
        (refund_id, orders[0].pk, -1500)
    ]
    # each charge's fee at Stripe's price; Stripe keeps the fee on a refund
    fees = {o.pk: us_card_fee(o.amount) for o in orders}
    assert {r.order_id: r.fee for r in by_type["charge"]} == fees
    payout = Payout.objects.get(stripe_id=payout_id)
    assert payout.amount == 4200 + 1999 + 12_345 - 1500 - sum(fees.values())

    body = finance_client().get(f"/api/finance/payouts/{payout_id}/").json()
    assert body["reconciled"] is True and body["unexplained"] == 0
    assert body["summary"]["net"] == body["amount"] == payout.amount
    assert body["summary"]["charges"] == 4200 + 1999 + 12_345
    assert body["summary"]["refunds"] == -1500
    assert body["summary"]["fees"] == -sum(fees.values())
    numbers = {o.pk: o.number for o in orders}
    lines = {line["balance_transaction"]: line for line in body["lines"]}
    assert len(lines) == 5
    assert {line["order"] for line in lines.values() if line["type"] != "payout"} == set(numbers.values())

    # and again: nothing changes
    assert payout_reconcile(payout_id=payout_id).note == "already reconciled"
    assert rows.count() == 5
