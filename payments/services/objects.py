"""Applying a Stripe object to our books, whoever brought it: a verified event (handlers) or an
object the server fetched itself (staff re-sync, the checkout return page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from disputes.services.sync import dispute_sync
from orders.models import Order
from orders.selectors import order_find_for_stripe_object
from orders.services import (
    OrderChange,
    order_apply_charge,
    order_apply_checkout_session,
    order_apply_payment_intent,
)
from payments import stripe_gateway
from payments.models import Refund
from payments.services.mirrors import charge_sync, mirror_sync
from payments.services.refunds import refund_apply
from payments.services.staff import staff_action_record

JsonDict = dict[str, Any]

NOTE_NO_ORDER = "no order matches this object"
NOTE_UNSUPPORTED = "objects of this kind are not applied"

# Events routed for the mirrors only; the order ignores them, as it did before they were routed.
# A charge.updated says that a detail changed (metadata, a description, an asynchronous
# capture): its time is not the time of the payment's outcome, so it must not re-decide the
# order's state. payment_intent.created is usually in the same second as the first attempt's
# decline, and an order's tie at one second goes to the snapshot applied last. The other two
# say nothing the order needs (charge.succeeded marks it paid).
MIRROR_ONLY_EVENTS = frozenset(
    {"charge.updated", "charge.pending", "payment_intent.created", "payment_intent.amount_capturable_updated"}
)


@dataclass(frozen=True)
class ApplyResult:
    order: Order | None = None
    change: OrderChange | None = None
    note: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.change and self.change.changed)


def stripe_object_apply(
    *, obj: JsonDict, seen_at: int | None, source: str, event_type: str = ""
) -> ApplyResult:
    """Apply one PaymentIntent, Charge, Refund or Checkout Session snapshot to its order through
    the forward-only order services, and keep the PaymentIntent and Charge mirrors
    (payments.services.mirrors) from the same snapshot, whether or not an order matches it.
    `seen_at` None means "just fetched from Stripe"."""
    kind = obj.get("object")
    if kind == "dispute":
        # Disputes have their own mirror and sync service (its lock order: dispute, then order).
        synced = dispute_sync(obj=obj, seen_at=seen_at)
        return ApplyResult(order=synced.dispute.order, note=synced.note)
    with transaction.atomic(savepoint=False):
        # Found and locked in one read; the order services then take it as locked. Lock order:
        # the order, then its mirrors.
        order = order_find_for_stripe_object(obj=obj, for_update=kind != "refund")
        if kind == "refund":
            _, change = refund_apply(refund=obj, order=order)
            return ApplyResult(order=order, change=change, note="" if order else NOTE_NO_ORDER)
        if kind not in ("payment_intent", "charge", "checkout.session"):
            return ApplyResult(order=order, note=NOTE_UNSUPPORTED)
        if kind in ("payment_intent", "charge"):
            mirror_sync(obj=obj, source=source, order=order, seen_at=seen_at)
        if order is None:
            return ApplyResult(note=NOTE_NO_ORDER)
        if event_type in MIRROR_ONLY_EVENTS:
            return ApplyResult(order=order)
        if kind == "payment_intent":
            change = order_apply_payment_intent(
                order=order, payment_intent=obj, seen_at=seen_at, source=source, locked=True
            )
        elif kind == "charge":
            raises = int(obj.get("amount_refunded") or 0) > order.amount_refunded
            if raises and order.refunds.filter(status=Refund.Status.FAILED).exists():
                # A snapshot from before one of the order's refunds failed still counts it: from
                # then on the refunds' own mirrors (refund_apply) say what is refunded.
                obj = {**obj, "amount_refunded": 0}
            change = order_apply_charge(order=order, charge=obj, seen_at=seen_at, source=source, locked=True)
        else:
            change = order_apply_checkout_session(
                order=order,
                session=obj,
                seen_at=seen_at,
                source=source,
                async_payment_failed=event_type == "checkout.session.async_payment_failed",
                locked=True,
            )
    return ApplyResult(order=change.order, change=change)


def stripe_object_resync(*, object_id: str, actor: Any = None) -> ApplyResult:
    """Fetch an object from Stripe (by id, or the object of an `evt_…`) and apply it: the state
    Stripe has now goes through the same idempotent change as a webhook."""
    obj = stripe_gateway.object_retrieve(object_id=object_id)
    if obj.get("object") == "event":
        inner_id = str(((obj.get("data") or {}).get("object") or {}).get("id") or "")
        obj = stripe_gateway.object_retrieve(object_id=inner_id)
    result = stripe_object_apply(obj=obj, seen_at=None, source=f"resync:{obj.get('id')}")
    outcome = result.note or (f"{result.order.number} {result.order.status}" if result.order else "")
    staff_action_record(actor=actor, action="resync", target=object_id, outcome=outcome)
    return result


@dataclass(frozen=True)
class PaymentIntentResync:
    order: Order | None
    charges: int


def payment_intent_resync(*, payment_intent_id: str) -> PaymentIntentResync:
    """Fetch a PaymentIntent (its latest charge expanded) and every charge attempt of it
    (`GET /v1/charges?payment_intent=…`) and bring our books up to date: the PaymentIntent goes
    through `stripe_object_apply` like a webhook (so a payment we missed is applied), and each
    charge into its mirror only. An older attempt's charge, fetched now, is a true snapshot of
    that charge but says nothing new about the order, so it must not re-decide the order's
    state. Idempotent: running it again changes nothing Stripe has not changed."""
    intent = stripe_gateway.payment_intent_retrieve(
        payment_intent_id=payment_intent_id, expand=["latest_charge"]
    )
    result = stripe_object_apply(obj=intent, seen_at=None, source=f"resync_payments:{payment_intent_id}")
    charges = 0
    for charge in stripe_gateway.charge_list_for_payment_intent(payment_intent_id=payment_intent_id):
        with transaction.atomic():
            charge_sync(obj=charge, source=f"resync_payments:{payment_intent_id}", order=result.order)
        charges += 1
    return PaymentIntentResync(order=result.order, charges=charges)
