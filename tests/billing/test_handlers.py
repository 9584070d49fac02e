"""Billing's event handlers: an event names the subscription (and invoice) to fetch; the note
each handler returns is what staff read on the event row ("last_error" column)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billing.models import Invoice, Subscription
from payments import stripe_gateway
from payments.models import StripeEvent

pytestmark = pytest.mark.django_db

T0 = 1_780_000_000


def _event(event_type: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "livemode": False,
        "created": T0,
        "api_version": "2026-08-26.dahlia",
        "data": {"object": obj},
    }


@pytest.fixture
def stripe_has(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Stripe's side: subscription sub_1 (past due) with its open invoice in_1, and in_0 paid;
    records which subscription and invoices the handlers asked for."""
    asked: list[tuple[str, str | None]] = []

    def subscription_retrieve(*, subscription_id: str) -> dict[str, Any]:
        asked.append(("subscription", subscription_id))
        return {"id": subscription_id, "status": "past_due", "customer": "cus_1", "latest_invoice": "in_1"}

    def invoice_retrieve(*, invoice_id: str) -> dict[str, Any]:
        asked.append(("invoice", invoice_id))
        status = "paid" if invoice_id == "in_0" else "open"
        return {"id": invoice_id, "status": status, "currency": "gbp", "amount_due": 900}

    monkeypatch.setattr(stripe_gateway, "subscription_retrieve", subscription_retrieve)
    monkeypatch.setattr(stripe_gateway, "invoice_retrieve", invoice_retrieve)
    monkeypatch.setattr(stripe_gateway, "invoice_payment_list", lambda *, invoice_id: iter([]))
    return asked


@pytest.mark.parametrize(
    "event_type",
    ["customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"],
)
def test_a_subscription_event_mirrors_the_subscription_stripe_has(
    process: Callable[..., StripeEvent], stripe_has: list[Any], event_type: str
) -> None:
    row = process(_event(event_type, {"id": "sub_1", "status": "active"}))
    assert (row.status, row.last_error) == ("processed", "subscription sub_1 is past_due")
    assert stripe_has[0] == ("subscription", "sub_1")
    assert Subscription.objects.get().status == "past_due"  # what Stripe says, not the event


def test_an_invoice_event_mirrors_its_invoice_and_the_latest_one(
    process: Callable[..., StripeEvent], stripe_has: list[Any]
) -> None:
    invoice = {"id": "in_0", "parent": {"subscription_details": {"subscription": "sub_1"}}}
    row = process(_event("invoice.paid", invoice))
    assert (row.status, row.last_error) == ("processed", "subscription sub_1 is past_due")
    assert stripe_has[0] == ("subscription", "sub_1")
    assert dict(Invoice.objects.values_list("stripe_id", "status")) == {"in_0": "paid", "in_1": "open"}


def test_an_upcoming_invoice_preview_refreshes_the_subscription_only(
    process: Callable[..., StripeEvent], stripe_has: list[Any]
) -> None:
    preview = {"id": None, "parent": {"subscription_details": {"subscription": "sub_1"}}}
    row = process(_event("invoice.upcoming", preview))
    assert row.last_error == "subscription sub_1 is past_due"
    assert stripe_has == [("subscription", "sub_1"), ("invoice", "in_1")]


@pytest.mark.parametrize("parent", [None, {}, {"subscription_details": None}, {"subscription_details": {}}])
def test_an_invoice_without_a_subscription_is_not_ours(
    process: Callable[..., StripeEvent], stripe_has: list[Any], parent: Any
) -> None:
    row = process(_event("invoice.paid", {"id": "in_9", "parent": parent}))
    assert (row.status, row.last_error) == ("processed", "invoice without a subscription: not ours to mirror")
    assert stripe_has == [] and not Invoice.objects.exists()
