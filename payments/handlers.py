"""Event handlers: the table from event type to a small function that calls services.

Every handler runs inside the processing transaction with the event row locked, takes the
stored `StripeEvent`, and returns an optional note for staff. Handlers are idempotent on the
object, not only on the event id (Stripe can send two Event objects for one change): the order
services only move forward and fulfillment is a unique row. Payout, dispute and billing handlers
go in the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing.handlers import handle_invoice, handle_subscription
from disputes.handlers import handle_dispute, handle_early_fraud_warning
from orders.services import THREE_DS_FAILURE_CODE
from payments.alerts import AlertKind, alert_send_on_commit
from payments.card_testing import Attempt, payment_decline_record
from payments.models import StripeEvent
from payments.services.objects import ApplyResult, stripe_object_apply
from reconciliation.handlers import handle_payout

Handler = Callable[[StripeEvent], str | None]


def _object(event: StripeEvent) -> dict[str, Any]:
    return event.payload["data"]["object"]


def _apply(event: StripeEvent) -> ApplyResult:
    return stripe_object_apply(
        obj=_object(event),
        seen_at=int(event.stripe_created.timestamp()) if event.stripe_created else None,
        source=event.stripe_id,
        event_type=event.type,
    )


def handle_object(event: StripeEvent) -> str | None:
    """The snapshot in the event carries the new state: apply it."""
    return _apply(event).note or None


def handle_payment_failed(event: StripeEvent) -> str | None:
    """A failed attempt: record it, and tell people once (not again for a second Event object)."""
    result = _apply(event)
    if result.order is not None:
        # Card testing (payments/card_testing.py): the decline counts against the order's address
        # and email and towards the shop's decline alert, once per failed charge, even when the
        # order page's own refresh applied the failure first (then nothing "changed" here).
        obj = _object(event)
        error = obj.get("last_payment_error") or {}
        charge = error.get("charge") or obj.get("latest_charge")
        payment_decline_record(
            attempt=Attempt(ip=result.order.customer_ip, email=result.order.email),
            decline_id=str(charge if isinstance(charge, str) else event.stripe_id),
        )
    if result.changed and result.order is not None:
        obj = _object(event)
        error = obj.get("last_payment_error") or {}
        three_ds = error.get("code") == THREE_DS_FAILURE_CODE
        payment_intent = obj.get("id") if obj.get("object") == "payment_intent" else obj.get("payment_intent")
        # The order has just taken this error's decline code (or code), or none when it has neither.
        code = result.order.last_decline_code or "no code"
        what = "3-D Secure authentication failed" if three_ds else "payment failed"
        alert_send_on_commit(
            kind=AlertKind.THREE_DS_FAILED if three_ds else AlertKind.PAYMENT_FAILED,
            message=f"Order {result.order.number}: {what}, {code}, {payment_intent or obj.get('id')}",
            ids={"order": result.order.number, "payment_intent": payment_intent, "object": obj.get("id")},
        )
    return result.note or None


def handle_refund_failed(event: StripeEvent) -> str | None:
    result = _apply(event)
    refund = _object(event)
    reason = refund.get("failure_reason") or "no code"
    order = result.order.number if result.order else "(no order)"
    alert_send_on_commit(
        kind=AlertKind.REFUND_FAILED,
        message=f"Order {order}: refund {refund.get('id')} failed, {reason}",
        ids={"order": order, "refund": refund.get("id")},
    )
    return result.note or None


HANDLERS: dict[str, Handler] = {
    "payment_intent.created": handle_object,
    "payment_intent.succeeded": handle_object,
    "payment_intent.payment_failed": handle_payment_failed,
    "payment_intent.requires_action": handle_object,
    "payment_intent.processing": handle_object,
    "payment_intent.amount_capturable_updated": handle_object,
    "payment_intent.canceled": handle_object,
    # Every attempt is a charge: these keep the Charge mirrors and the order. Some types only
    # keep the mirrors: payments.services.objects.MIRROR_ONLY_EVENTS.
    "charge.pending": handle_object,
    "charge.succeeded": handle_object,
    "charge.failed": handle_object,
    "charge.captured": handle_object,
    "charge.updated": handle_object,
    "charge.refunded": handle_object,
    "refund.created": handle_object,
    "refund.updated": handle_object,
    "refund.failed": handle_refund_failed,
    "checkout.session.completed": handle_object,
    "checkout.session.async_payment_succeeded": handle_object,
    "checkout.session.async_payment_failed": handle_payment_failed,
    "checkout.session.expired": handle_object,
    "payout.created": handle_payout,
    "payout.updated": handle_payout,
    "payout.paid": handle_payout,
    "payout.failed": handle_payout,
    "payout.canceled": handle_payout,
    "payout.reconciliation_completed": handle_payout,
    "charge.dispute.created": handle_dispute,
    "charge.dispute.updated": handle_dispute,
    "charge.dispute.closed": handle_dispute,
    "charge.dispute.funds_withdrawn": handle_dispute,
    "charge.dispute.funds_reinstated": handle_dispute,
    "radar.early_fraud_warning.created": handle_early_fraud_warning,
    "radar.early_fraud_warning.updated": handle_early_fraud_warning,
    "customer.subscription.created": handle_subscription,
    "customer.subscription.updated": handle_subscription,
    "customer.subscription.deleted": handle_subscription,
    "invoice.created": handle_invoice,
    "invoice.finalized": handle_invoice,
    "invoice.paid": handle_invoice,
    "invoice.payment_succeeded": handle_invoice,
    "invoice.payment_failed": handle_invoice,
    "invoice.payment_action_required": handle_invoice,
    "invoice.voided": handle_invoice,
    "invoice.marked_uncollectible": handle_invoice,
    "invoice.upcoming": handle_invoice,
}
