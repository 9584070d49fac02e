"""Billing's event handlers (in payments/handlers.py's table).

An event only says *which* subscription changed: the handler fetches it and its latest invoice
from Stripe and syncs them (`billing_refresh`), so a duplicate, a reordering or a dropped event
in between changes nothing, and every handler is idempotent.
"""

from __future__ import annotations

from typing import Any

from billing.services import billing_refresh
from payments.models import StripeEvent


def _object(event: StripeEvent) -> dict[str, Any]:
    return event.payload["data"]["object"]


def handle_subscription(event: StripeEvent) -> str | None:
    """customer.subscription.created/updated/deleted."""
    sub = billing_refresh(
        subscription_id=str(_object(event)["id"]),
    )
    return f"subscription {sub.stripe_id} is {sub.status}"


def handle_invoice(event: StripeEvent) -> str | None:
    """invoice.created/finalized/paid/payment_failed/payment_action_required/…."""
    obj = _object(event)
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    sub_id = parent.get("subscription")
    if not sub_id:
        return "invoice without a subscription: not ours to mirror"
    invoice_id = obj.get("id")  # invoice.upcoming is a preview without an id
    sub = billing_refresh(subscription_id=str(sub_id), invoice_id=str(invoice_id) if invoice_id else None)
    return f"subscription {sub.stripe_id} is {sub.status}"
