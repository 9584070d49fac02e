"""Writes to orders: creation, the forward-only state changes applied from Stripe objects, and
fulfillment.

Every state change from Stripe goes through `order_apply_*` here, whoever calls it: the webhook
handlers, the checkout return page, the staff re-sync action. They lock the order row
(`select_for_update`); callers that also hold an event row lock it first (lock order: event row,
then order row). `seen_at` is the Stripe time (unix seconds) of the snapshot: an event's
`created`, or now for an object the server has just fetched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.db import insert_or_skip
from core.keys import idempotency_key
from core.stripe_objects import id_of
from orders.emails import order_confirmations_wake
from orders.models import STATUS_RANK, UNSETTLED_RANK, Fulfillment, Order, OrderItem

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

# What each PaymentIntent status means for the order. `requires_payment_method` with a
# `last_payment_error` is a failed attempt; without one it is a fresh intent.
PAYMENT_INTENT_STATUS_TO_ORDER: dict[str, str] = {
    "requires_payment_method": Order.Status.AWAITING_PAYMENT,
    "requires_confirmation": Order.Status.AWAITING_PAYMENT,
    "requires_action": Order.Status.AWAITING_PAYMENT,
    "processing": Order.Status.AWAITING_PAYMENT,
    "requires_capture": Order.Status.AWAITING_PAYMENT,
    "canceled": Order.Status.CANCELED,
    "succeeded": Order.Status.PAID,
}
THREE_DS_FAILURE_CODE = "payment_intent_authentication_failure"
# An order in these states is not paid yet and may still take a payment (or a revised cart).
OPEN_STATUSES = (Order.Status.PENDING, Order.Status.AWAITING_PAYMENT, Order.Status.PAYMENT_FAILED)
# What a revised cart writes; the rest of the locked row is saved as it was read.
REVISE_FIELDS = ["email", "name", "billing_address", "shipping_address", "amount", "updated_at"]


@dataclass(frozen=True)
class OrderChange:
    """What one `order_apply_*` call did: `changed` when the order moved (or learned a new decline
    code), `fulfilled` when this very call created the fulfillment."""

    order: Order
    changed: bool = False
    fulfilled: bool = False


@dataclass(frozen=True)
class ItemInput:
    product_name: str
    unit_amount: int
    quantity: int
    sku: str = ""


def items_amount(items: Sequence[ItemInput]) -> int:
    """What the lines cost, in minor units of their currency."""
    return sum(item.unit_amount * item.quantity for item in items)


def _items_create(*, order: Order, items: Sequence[ItemInput]) -> None:
    OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            product_name=item.product_name,
            sku=item.sku,
            unit_amount=item.unit_amount,
            quantity=item.quantity,
            currency=order.currency,
        )
        for item in items
    )


def order_create(
    *,
    email: str,
    name: str,
    currency: str,
    items: Iterable[ItemInput],
    billing_address: JsonDict | None = None,
    shipping_address: JsonDict | None = None,
    customer_ip: str | None = None,
    user_agent: str = "",
    stripe_customer_id: str = "",
) -> Order:
    """Create a pending order from catalog prices (never from a form's amount) and store the
    idempotency key of its PaymentIntent operation before any Stripe call."""
    items = list(items)
    with transaction.atomic():
        order = Order.objects.create(
            email=email,
            name=name,
            currency=currency.lower(),
            amount=items_amount(items),
            billing_address=billing_address or {},
            shipping_address=shipping_address or {},
            customer_ip=customer_ip,
            user_agent=user_agent[:1000],
            stripe_customer_id=stripe_customer_id,
        )
        _items_create(order=order, items=items)
        order.payment_intent_idempotency_key = idempotency_key("order", order.pk, "payment-intent")
        keyed = ["payment_intent_idempotency_key", "updated_at"]  # pragma: no mutate: a row just made
        order.save(update_fields=keyed)  # pragma: no mutate: a row just made
    return order


def order_revise(
    *,
    order: Order,
    email: str,
    name: str,
    items: Iterable[ItemInput],
    billing_address: JsonDict | None = None,
    shipping_address: JsonDict | None = None,
) -> Order | None:
    """Put a changed cart (lines from catalog prices) and changed customer details on an order
    that is still open, replacing its lines; None when it is no longer open (paid, or canceled,
    meanwhile). The currency stays the order's. The caller has told Stripe first (the
    PaymentIntent's amount): a payment can only be for the amount Stripe was given."""
    items = list(items)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status not in OPEN_STATUSES:
            return None
        locked.email, locked.name = email, name
        locked.billing_address = billing_address or {}
        locked.shipping_address = shipping_address or {}
        locked.amount = items_amount(items)
        locked.save(update_fields=REVISE_FIELDS)  # pragma: no mutate: a locked, fresh row: all columns match
        OrderItem.objects.filter(order=locked).delete()
        _items_create(order=locked, items=items)
    return locked


def _lock(order: Order, *, locked: bool) -> Order:
    """The order row, locked for this transaction; `locked` says the caller already selected it
    `FOR UPDATE` in this transaction (the event handlers do), so it is not read twice."""
    return order if locked else Order.objects.select_for_update().get(pk=order.pk)


def _advance(order: Order, *, status: str, seen_at: int) -> bool:
    """Move a locked order to `status` if the forward-only rules allow it (see orders.models)."""
    current, new = STATUS_RANK[order.status], STATUS_RANK[status]
    if new > current or (new == current == UNSETTLED_RANK and seen_at >= order.payment_state_at):
        moved = order.status != status
        order.status = status
        order.payment_state_at = max(order.payment_state_at, seen_at)
        return moved
    return False


def _now_seconds() -> int:
    return int(time.time())


def _decline_code(error: JsonDict) -> str:
    return str(error.get("decline_code") or error.get("code") or "")[:64]


def _link_payment_intent(order: Order, payment_intent_id: str) -> list[str]:
    if payment_intent_id and not order.payment_intent_id:
        order.payment_intent_id = payment_intent_id
        return ["payment_intent_id"]
    return []


def _save(order: Order, fields: set[str]) -> None:
    if fields:
        order.save(update_fields=[*sorted(fields), "updated_at"])  # pragma: no mutate: a locked row


def _mark_paid(order: Order, fields: set[str], *, seen_at: int, source: str) -> tuple[set[str], bool]:
    """Paid, then fulfilled exactly once, saved with the caller's `fields` in one UPDATE.
    Returns every changed field and whether this call fulfilled the order."""
    fields = set(fields)
    if _advance(order, status=Order.Status.PAID, seen_at=seen_at):
        fields |= {"status", "payment_state_at"}
    if order.paid_at is None:
        order.paid_at = timezone.now()
        fields.add("paid_at")
    if order.last_decline_code:
        order.last_decline_code = ""
        fields.add("last_decline_code")
    fulfilled = order_fulfill(order=order, source=source, locked=True, save=False)
    if fulfilled:
        fields |= {"status", "fulfilled_at"}
    _save(order, fields)
    return fields, fulfilled


def order_apply_payment_intent(
    *,
    order: Order,
    payment_intent: JsonDict,
    seen_at: int | None = None,
    source: str = "",
    locked: bool = False,
) -> OrderChange:
    """Apply a PaymentIntent snapshot (from a verified event or fetched by the server) to its
    order. The single idempotent state change for PaymentIntents: never backwards, and a paid
    order is fulfilled exactly once."""
    seen_at = _now_seconds() if seen_at is None else seen_at
    pi_status = str(payment_intent.get("status") or "")
    if pi_status not in PAYMENT_INTENT_STATUS_TO_ORDER:
        raise ValueError(f"unknown PaymentIntent status {pi_status!r}")
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)  # pragma: no mutate: re-locking a locked row reads the same row
        fields = set(_link_payment_intent(order, id_of(payment_intent)))
        charge_id = id_of(payment_intent.get("latest_charge"))
        if charge_id and (not order.charge_id or (pi_status == "succeeded" and order.charge_id != charge_id)):
            order.charge_id = charge_id
            fields.add("charge_id")
        if payment_intent.get("livemode") and not order.livemode:
            order.livemode = True
            fields.add("livemode")

        if pi_status == "succeeded":
            if order.payment_intent_status != pi_status:
                order.payment_intent_status = pi_status
                fields.add("payment_intent_status")
            fields, fulfilled = _mark_paid(order, fields, seen_at=seen_at, source=source)
            return OrderChange(order, bool(fields), fulfilled)  # fulfilling changes the status

        status = PAYMENT_INTENT_STATUS_TO_ORDER[pi_status]
        error = payment_intent.get("last_payment_error")
        if pi_status == "requires_payment_method" and error:
            status = Order.Status.PAYMENT_FAILED
        before = (order.payment_state_at, order.last_decline_code)  # pragma: no mutate: the same time again
        if _advance(order, status=status, seen_at=seen_at):
            fields |= {"status"}
        if order.status == status and order.payment_state_at == seen_at:
            # This snapshot is the newest one applied: its details are the order's.
            if order.payment_intent_status != pi_status:
                order.payment_intent_status = pi_status
                fields.add("payment_intent_status")
            # Failed means Stripe gave an error (above).
            code = (
                _decline_code(error or {})
                if status == Order.Status.PAYMENT_FAILED
                else order.last_decline_code
            )
            if code != order.last_decline_code:
                order.last_decline_code = code
                fields.add("last_decline_code")
            if status == Order.Status.CANCELED and order.canceled_at is None:
                order.canceled_at = timezone.now()
                fields.add("canceled_at")
        if (order.payment_state_at, order.last_decline_code) != before:
            fields |= {"payment_state_at"}
        _save(order, fields)
        changed = "status" in fields or "last_decline_code" in fields
        return OrderChange(order, changed)


def order_apply_charge(
    *, order: Order, charge: JsonDict, seen_at: int | None = None, source: str = "", locked: bool = False
) -> OrderChange:
    """Apply a Charge snapshot: a succeeded charge means paid, a failed one a failed attempt, and
    `amount_refunded` (which only grows) the refunded state."""
    seen_at = _now_seconds() if seen_at is None else seen_at
    charge_status = charge.get("status")
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)  # pragma: no mutate: re-locking a locked row reads the same row
        fields = set(_link_payment_intent(order, id_of(charge.get("payment_intent"))))
        fulfilled = False
        if charge_status == "succeeded" and charge.get("paid", True):
            if order.charge_id != charge["id"]:
                order.charge_id = str(charge["id"])
                fields.add("charge_id")
            fields, fulfilled = _mark_paid(order, fields, seen_at=seen_at, source=source)
        elif charge_status == "failed":
            if _advance(order, status=Order.Status.PAYMENT_FAILED, seen_at=seen_at):
                fields |= {"status", "payment_state_at"}
            if order.status == Order.Status.PAYMENT_FAILED and order.payment_state_at == seen_at:
                # outcome.reason is the issuer's reason, the PaymentIntent's decline_code.
                outcome = charge.get("outcome") or {}
                code = str(outcome.get("reason") or charge.get("failure_code") or "")[:64]
                if code and code != order.last_decline_code:
                    order.last_decline_code = code
                    fields |= {"last_decline_code", "payment_state_at"}
            _save(order, fields)
        else:
            _save(order, fields)
        refund = order_apply_refunded_amount(
            order=order,
            amount_refunded=int(charge.get("amount_refunded") or 0),
            locked=True,  # pragma: no mutate: re-locking a locked row reads the same row
        )
        order = refund.order
        changed = bool(fields & {"status", "last_decline_code"}) or refund.changed or fulfilled
        return OrderChange(order, changed, fulfilled)


def order_apply_checkout_session(
    *,
    order: Order,
    session: JsonDict,
    seen_at: int | None = None,
    source: str = "",
    async_payment_failed: bool = False,
    locked: bool = False,
) -> OrderChange:
    """Apply a Checkout Session snapshot: `complete` + `paid` is paid; `complete` + `unpaid` is an
    asynchronous payment still on its way, or failed when the event says so
    (`checkout.session.async_payment_failed`: the session itself still reads complete/unpaid);
    `expired` cancels an order not yet paid."""
    seen_at = _now_seconds() if seen_at is None else seen_at
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)  # pragma: no mutate: re-locking a locked row reads the same row
        fields: set[str] = set()
        if session.get("id") and not order.checkout_session_id:
            order.checkout_session_id = str(session["id"])
            fields.add("checkout_session_id")
        fields |= set(_link_payment_intent(order, id_of(session.get("payment_intent"))))
        customer = id_of(session.get("customer"))
        if customer and not order.stripe_customer_id:
            order.stripe_customer_id = customer
            fields.add("stripe_customer_id")
        session_status, payment_status = session.get("status"), session.get("payment_status")
        fulfilled = False
        if session_status == "complete" and payment_status in ("paid", "no_payment_required"):
            fields, fulfilled = _mark_paid(order, fields, seen_at=seen_at, source=source)
        else:
            if session_status == "expired":
                target = Order.Status.CANCELED
            elif async_payment_failed:
                target = Order.Status.PAYMENT_FAILED
            else:
                target = Order.Status.AWAITING_PAYMENT
            if _advance(order, status=target, seen_at=seen_at):
                fields |= {"status", "payment_state_at"}
                if target == Order.Status.CANCELED:
                    order.canceled_at = timezone.now()
                    fields.add("canceled_at")
            _save(order, fields)
        changed = "status" in fields or fulfilled
        return OrderChange(order, changed, fulfilled)


def order_apply_refunded_amount(*, order: Order, amount_refunded: int, locked: bool = False) -> OrderChange:
    """Record how much of the order Stripe has refunded (it only grows) and the refund status."""
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)  # pragma: no mutate: re-locking a locked row reads the same row
        if amount_refunded <= order.amount_refunded:
            return OrderChange(order)
        order.amount_refunded = amount_refunded
        target = Order.Status.REFUNDED if amount_refunded >= order.amount else Order.Status.PARTIALLY_REFUNDED
        fields = {"amount_refunded"}
        if _advance(order, status=target, seen_at=order.payment_state_at):
            fields.add("status")
        _save(order, fields)
        return OrderChange(order, changed=True)


def order_apply_refund_failed(*, order: Order, amount: int, locked: bool = False) -> OrderChange:
    """A refund that had succeeded failed after all ("a refund can appear to succeed and later
    fail"): Stripe put its `amount` back in the balance, so the order's refunded amount drops by
    it, and a refunded order is partly refunded again, or fulfilled (paid, if never fulfilled).
    Stripe's newer state, not a stale one (invariant 5): the caller calls this once per refund,
    when its mirror moves from succeeded to failed, which a refund's status does only once."""
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)  # pragma: no mutate: re-locking a locked row reads the same row
        refunded = max(order.amount_refunded - amount, 0)
        if refunded == order.amount_refunded:
            return OrderChange(order)
        order.amount_refunded = refunded
        fields = {"amount_refunded"}
        if order.status in (Order.Status.REFUNDED, Order.Status.PARTIALLY_REFUNDED):
            if refunded:
                order.status = Order.Status.PARTIALLY_REFUNDED
            else:
                order.status = Order.Status.FULFILLED if order.fulfilled_at else Order.Status.PAID
            fields.add("status")
        _save(order, fields)
        return OrderChange(order, changed=True)


def order_fulfill(*, order: Order, source: str, locked: bool, save: bool = True) -> bool:
    """Fulfill a paid order exactly once (invariant 3); returns whether this call did.

    The unique order column of Fulfillment is the guard: `INSERT … ON CONFLICT DO NOTHING`
    stores the row only for the first caller, concurrent or not, with no savepoint to roll back.
    `locked` says the caller holds the order row `FOR UPDATE` in this transaction; with
    `save=False` the order's new status and `fulfilled_at` are left in memory for the caller's
    own UPDATE (the `order_apply_*` services save everything they change in one)."""
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)
        now = timezone.now()
        created = insert_or_skip(
            model=Fulfillment,
            values={"order_id": order.pk, "source": source[:255], "created_at": now, "updated_at": now},
            conflict=["order_id"],
            returning="id",
        )
        if created is None:
            return False
        # Only a paid order becomes fulfilled; a refunded one keeps its status.
        if order.status == Order.Status.PAID:
            order.status = Order.Status.FULFILLED
        if order.fulfilled_at is None:
            order.fulfilled_at = now
        if save:
            _save(order, {"status", "fulfilled_at"})
        # Logged, and the confirmation email woken, once this fulfillment is committed (a drain
        # page that is rolled back and redone must not say it twice).
        number = order.number  # pragma: no mutate: only the log line reads it

        def committed() -> None:
            logger.info("order fulfilled order=%s source=%s", number, source)
            order_confirmations_wake()

        transaction.on_commit(committed)
    return True


def order_mark_disputed(*, order: Order, locked: bool = False) -> OrderChange:
    """A dispute was opened on the order's payment: it becomes disputed, which outranks every
    other status (orders.models), so a late paid or refunded snapshot cannot hide it. The
    outcome (won, lost) is the dispute's own status, shown beside the order."""
    with transaction.atomic(savepoint=False):  # pragma: no mutate: savepoint or not, the same rows commit
        order = _lock(order, locked=locked)  # pragma: no mutate: re-locking a locked row reads the same row
        moved = _advance(order, status=Order.Status.DISPUTED, seen_at=order.payment_state_at)
        _save(order, {"status"} if moved else set())
        return OrderChange(order, moved)
