"""Factories for the reconciliation tests: Charge, Refund and Dispute mirror rows, and Stripe-shaped
Payout, BalanceTransaction, Charge, Refund and Dispute dicts built on Stripe's own example objects
(a copy of fixtures3.json's, in stripe_fixtures.json), Subscription and Invoice dicts with the
fields the billing sync reads, plus a fake of the gateway's lists and retrieves."""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import factory
import pytest

from config.celery import app as celery_app
from disputes.models import Dispute
from orders.models import Order
from payments import stripe_gateway
from payments.models import Charge, Refund
from reconciliation.services.payouts import RECONCILE_TASK
from tests.factories import OrderFactory

FIXTURES = json.loads((Path(__file__).parent / "stripe_fixtures.json").read_text())
_seq = itertools.count(1)

JsonDict = dict[str, Any]


def _next() -> int:
    return next(_seq)


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


class ChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charge

    stripe_id = factory.Sequence(lambda n: f"ch_recon{n:06d}")
    order = factory.SubFactory(OrderFactory)
    status = Charge.Status.SUCCEEDED
    paid = True
    captured = True
    amount = factory.LazyAttribute(lambda charge: charge.order.amount if charge.order else 4200)
    amount_captured = factory.LazyAttribute(lambda charge: charge.amount)
    currency = "gbp"
    stripe_created = factory.LazyFunction(lambda: at(int(time.time()) - 86400))


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    stripe_id = factory.Sequence(lambda n: f"re_recon{n:06d}")
    order = factory.SubFactory(OrderFactory)
    charge_id = ""
    amount = 1000
    currency = "gbp"
    status = Refund.Status.SUCCEEDED
    stripe_created = factory.LazyFunction(lambda: at(int(time.time()) - 86400))


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    stripe_id = factory.Sequence(lambda n: f"dp_recon{n:06d}")
    charge_id = ""
    amount = 4200
    currency = "gbp"
    status = Dispute.Status.NEEDS_RESPONSE
    stripe_created = factory.LazyFunction(lambda: at(int(time.time()) - 86400))


def order_paid(**fields: Any) -> Order:
    fields.setdefault("status", Order.Status.PAID)
    return OrderFactory(**fields)


# ---------------------------------------------------------------------------- Stripe dicts


def stripe_payout(**fields: Any) -> JsonDict:
    obj = copy.deepcopy(FIXTURES["payout"])
    obj.update(
        id=f"po_recon{_next():06d}",
        amount=0,
        currency="gbp",
        status="paid",
        created=int(time.time()) - 3600,
        arrival_date=int(time.time()) + 86400,
        reconciliation_status="completed",
        trace_id={"status": "supported", "value": "TRACE-0001"},
    )
    obj.update(fields)
    return obj


def stripe_txn(*, amount: int, fee: int = 0, type: str, source: Any, **fields: Any) -> JsonDict:
    obj = copy.deepcopy(FIXTURES["balance_transaction"])
    obj.update(
        id=f"txn_recon{_next():08d}",
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency="gbp",
        type=type,
        reporting_category=fields.pop("reporting_category", type),
        source=source,
        fee_details=[
            {"amount": fee, "currency": "gbp", "description": "Stripe processing fees", "type": "stripe_fee"}
        ]
        if fee
        else [],
        created=int(time.time()) - 7200,
        available_on=int(time.time()) - 3600,
    )
    obj.update(fields)
    return obj


def stripe_charge(*, id: str | None = None, amount: int = 4200, **fields: Any) -> JsonDict:
    obj = copy.deepcopy(FIXTURES["charge"])
    obj.update(
        id=id or f"ch_remote{_next():06d}",
        amount=amount,
        amount_captured=amount,
        currency="gbp",
        status="succeeded",
        paid=True,
        captured=True,
        created=int(time.time()) - 86400,
        metadata={},
    )
    obj.update(fields)
    return obj


def stripe_refund(*, id: str | None = None, amount: int = 1000, **fields: Any) -> JsonDict:
    obj = copy.deepcopy(FIXTURES["refund"])
    obj.update(
        id=id or f"re_remote{_next():06d}",
        amount=amount,
        currency="gbp",
        status="succeeded",
        created=int(time.time()) - 86400,
        metadata={},
    )
    obj.update(fields)
    return obj


def stripe_dispute(*, id: str | None = None, amount: int = 4200, **fields: Any) -> JsonDict:
    obj = copy.deepcopy(FIXTURES["dispute"])
    obj.update(
        id=id or f"dp_remote{_next():06d}",
        amount=amount,
        currency="gbp",
        status="needs_response",
        created=int(time.time()) - 86400,
    )
    obj.update(fields)
    return obj


def stripe_subscription(*, id: str | None = None, **fields: Any) -> JsonDict:
    obj: JsonDict = {
        "id": id or f"sub_remote{_next():06d}",
        "object": "subscription",
        "status": "active",
        "customer": "cus_remote",
        "currency": "gbp",
        "created": int(time.time()) - 40 * 86400,
        "items": {"data": [{"price": {"id": "price_remote", "unit_amount": 900, "currency": "gbp"}}]},
        "metadata": {},
        "livemode": False,
    }
    obj.update(fields)
    return obj


def stripe_invoice(*, subscription: Any, id: str | None = None, **fields: Any) -> JsonDict:
    """A renewal invoice of `subscription` (an id, or an expanded subscription)."""
    obj: JsonDict = {
        "id": id or f"in_remote{_next():06d}",
        "object": "invoice",
        "status": "paid",
        "customer": "cus_remote",
        "billing_reason": "subscription_cycle",
        "amount_due": 900,
        "amount_paid": 900,
        "currency": "gbp",
        "attempt_count": 1,
        "created": int(time.time()) - 86400,
        "parent": {"subscription_details": {"subscription": subscription}},
        "livemode": False,
    }
    obj.update(fields)
    return obj


def charge_txn(charge: JsonDict, *, fee: int = 0, **fields: Any) -> JsonDict:
    return stripe_txn(amount=charge["amount"], fee=fee, type="charge", source=charge, **fields)


def refund_txn(refund: JsonDict, **fields: Any) -> JsonDict:
    return stripe_txn(amount=-refund["amount"], type="refund", source=refund, **fields)


def dispute_txn(dispute: JsonDict, *, fee: int = 1500, **fields: Any) -> JsonDict:
    return stripe_txn(
        amount=-dispute["amount"],
        fee=fee,
        type="adjustment",
        source=dispute,
        reporting_category="dispute",
        **fields,
    )


def payout_txn(payout: JsonDict) -> JsonDict:
    return stripe_txn(
        amount=-payout["amount"], type="payout", source=payout["id"], reporting_category="payout"
    )


class FakeStripe:
    """What the gateway's functions would return, kept in memory: payouts, their transactions
    (listed a page at a time, like Stripe), charges, refunds and disputes."""

    def __init__(self) -> None:
        self.payouts: dict[str, JsonDict] = {}
        self.transactions: dict[str, list[JsonDict]] = {}
        self.charges: list[JsonDict] = []
        self.refunds: list[JsonDict] = []
        self.disputes: list[JsonDict] = []
        self.invoices: list[JsonDict] = []
        self.subscriptions: dict[str, JsonDict] = {}
        self.listed: list[str] = []
        self.list_delay = 0.0  # seconds spent inside a listing, to widen a race on purpose

    def add_payout(self, payout: JsonDict, lines: list[JsonDict], *, with_own_line: bool = True) -> JsonDict:
        self.payouts[payout["id"]] = payout
        self.transactions[payout["id"]] = [*lines, payout_txn(payout)] if with_own_line else list(lines)
        return payout

    def balance_transaction_list(self, *, payout_id: str) -> Iterator[JsonDict]:
        self.listed.append(payout_id)
        # No copies: the reconciliation only reads what it is given (and 100,000 copies are slow).
        for i, txn in enumerate(self.transactions.get(payout_id, [])):
            if i == 1 and self.list_delay:
                time.sleep(self.list_delay)
            yield txn

    def payout_list(self, *, since: int, until: int | None = None) -> Iterator[JsonDict]:
        yield from (copy.deepcopy(p) for p in self.payouts.values() if p["created"] >= since)

    def charge_list(self, *, since: int, until: int | None = None) -> Iterator[JsonDict]:
        yield from (copy.deepcopy(c) for c in self.charges if c["created"] >= since)

    def refund_list(self, *, since: int, until: int | None = None) -> Iterator[JsonDict]:
        yield from (copy.deepcopy(r) for r in self.refunds if r["created"] >= since)

    def dispute_list(self, *, since: int, until: int | None = None) -> Iterator[JsonDict]:
        yield from (copy.deepcopy(d) for d in self.disputes if d["created"] >= since)

    def invoice_list_created(self, *, since: int, until: int | None = None) -> Iterator[JsonDict]:
        yield from (copy.deepcopy(i) for i in self.invoices if i["created"] >= since)

    def subscription_retrieve(self, *, subscription_id: str) -> JsonDict:
        return copy.deepcopy(self.subscriptions[subscription_id])

    def invoice_retrieve(self, *, invoice_id: str) -> JsonDict:
        return copy.deepcopy(next(i for i in self.invoices if i["id"] == invoice_id))

    def invoice_payment_list(self, *, invoice_id: str) -> Iterator[JsonDict]:
        yield from ()

    def object_retrieve(self, *, object_id: str) -> JsonDict:
        for obj in [*self.charges, *self.refunds, *self.disputes, *self.payouts.values()]:
            if obj["id"] == object_id:
                return copy.deepcopy(obj)
        raise stripe_gateway.InvalidRequest("No such object", code="resource_missing")


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    fake = FakeStripe()
    for name in (
        "balance_transaction_list",
        "payout_list",
        "charge_list",
        "refund_list",
        "dispute_list",
        "invoice_list_created",
        "subscription_retrieve",
        "invoice_retrieve",
        "invoice_payment_list",
        "object_retrieve",
    ):
        monkeypatch.setattr(stripe_gateway, name, getattr(fake, name))
    return fake


def capture_reconciliations(monkeypatch: pytest.MonkeyPatch, queued: list[str]) -> None:
    """Record the payout ids whose reconciliation task is queued, instead of queueing it."""

    def send_task(name: str, args: Any = (), **options: Any) -> None:
        if name == RECONCILE_TASK:
            queued.append(args[0])

    monkeypatch.setattr(celery_app, "send_task", send_task)
