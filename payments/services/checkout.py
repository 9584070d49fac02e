"""Checkout: turn a cart into an order and the order into a Stripe payment, either through the
Payment Element on our page (a PaymentIntent) or through Stripe Checkout (a Checkout Session).

Rules kept here (docs/architecture.md, step 1; rules 1 and 2):

- Prices come from the catalog only: order lines are built from `Product` rows by the cart.
- One order per checkout form: the form's token is unique on `OrderCheckout`, so a double
  submit finds the first order. One PaymentIntent per order: it is created with the key stored on
  the order before the call (`order:<pk>:payment-intent:v1`); a retry or a second tab reuses it.
- A changed cart updates the open PaymentIntent (key `order:<pk>:payment-intent-update:v<revision>`,
  the revision stored before the call) rather than creating another, then the order's lines
  (`orders.services.order_revise`, built as `order_create` builds them); a Checkout Session
  cannot change its lines, so it is expired and the new cart gets a new order.
- Nothing the browser says is proof of payment: the return pages fetch the PaymentIntent or the
  Session from Stripe themselves, check that it is this order's, and apply it through the same
  idempotent services as the webhook (`stripe_object_apply` for a PaymentIntent, which keeps
  its mirrors too; `order_apply_checkout_session` for a Session), which fulfill exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from core.keys import idempotency_key
from orders.cart import CartLine
from orders.models import Order, OrderCheckout, OrderItem
from orders.services import (
    OPEN_STATUSES,
    ItemInput,
    items_amount,
    order_apply_checkout_session,
    order_create,
    order_revise,
)
from payments import stripe_gateway
from payments.services.objects import stripe_object_apply
from payments.stripe_gateway import InvalidRequest, StripeGatewayError

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

# The return page asks Stripe at most this often per order (a conditional UPDATE decides).
SYNC_INTERVAL = timedelta(seconds=2)
# Checkout Sessions live 30 min to 24 h (stripe-facts §6); ours an hour from the order.
CHECKOUT_SESSION_LIFETIME = timedelta(hours=1)
CHECKOUT_SESSION_MIN_LIFETIME = timedelta(minutes=31)
# PaymentIntent states in which the amount may still change and the customer may still pay.
PAYABLE_PI_STATUSES = ("requires_payment_method", "requires_confirmation", "requires_action")

# ---------------------------------------------------------------------------- placing the order


@dataclass(frozen=True)
class CustomerDetails:
    email: str
    name: str
    billing_address: JsonDict = field(default_factory=dict)
    shipping_address: JsonDict = field(default_factory=dict)


def _address(value: JsonDict) -> JsonDict:
    """Stripe's address shape without empty values (the checkout form asks for no state)."""
    keys = ("line1", "line2", "city", "postal_code", "country")
    return {key: str(value[key]) for key in keys if value.get(key)}


def _lines_of_order(order: Order) -> list[tuple[str, int, int]]:
    return sorted((item.sku, item.unit_amount, item.quantity) for item in order.items.all())


def _lines_of_cart(lines: Sequence[CartLine]) -> list[tuple[str, int, int]]:
    return sorted((line.product.sku, line.product.unit_amount, line.quantity) for line in lines)


def _same_details(order: Order, details: CustomerDetails) -> bool:
    return (
        order.email == details.email
        and order.name == details.name
        and order.billing_address == _address(details.billing_address)
        and order.shipping_address == _address(details.shipping_address)
    )


def _item_inputs(lines: Sequence[CartLine]) -> list[ItemInput]:
    return [
        ItemInput(
            product_name=line.product.name,
            unit_amount=line.product.unit_amount,
            quantity=line.quantity,
            sku=line.product.sku,
        )
        for line in lines
    ]


def _method_of(order: Order) -> str | None:
    checkout = OrderCheckout.objects.filter(order=order).only("method").first()
    return checkout.method if checkout else None


def checkout_order_place(
    *,
    form_token: str,
    method: str,
    lines: Sequence[CartLine],
    details: CustomerDetails,
    customer_ip: str | None,
    user_agent: str,
    open_order: Order | None = None,
) -> Order:
    """The order for this checkout submission.

    - The same form submitted twice → the first submission's order (unique `form_token`).
    - The customer's open order (from their session), same method and currency, not yet paid →
      that order, with its lines and details updated (Payment Element) when they changed.
    - Otherwise a new order; an open order being replaced has its PaymentIntent canceled or its
      Checkout Session expired, so it can no longer take money.
    """
    if not lines:
        raise ValueError("an order needs at least one line")
    submitted = OrderCheckout.objects.select_related("order")  # pragma: no mutate: it only saves a query
    existing = submitted.filter(form_token=form_token).first()
    if existing is not None:
        return existing.order
    currency = lines[0].product.currency
    if open_order is not None and open_order.status in OPEN_STATUSES and open_order.currency == currency:
        open_method = _method_of(open_order)
        same = _lines_of_order(open_order) == _lines_of_cart(lines) and _same_details(open_order, details)
        if open_method == method and same:
            return open_order
        if open_method == method == OrderCheckout.Method.PAYMENT_ELEMENT:
            revised = payment_element_revise(order=open_order, lines=lines, details=details)
            if revised is not None:
                return revised
        checkout_order_abandon(order=open_order)
    try:
        with transaction.atomic():
            order = order_create(
                email=details.email,
                name=details.name,
                currency=currency,
                items=_item_inputs(lines),
                billing_address=_address(details.billing_address),
                shipping_address=_address(details.shipping_address),
                customer_ip=customer_ip,
                user_agent=user_agent,
            )
            OrderCheckout.objects.create(order=order, form_token=form_token, method=method)
    except IntegrityError:
        # The same form, submitted at the same moment: the other request's order wins.
        return submitted.get(form_token=form_token).order
    logger.info("checkout order placed order=%s method=%s", order.number, method)
    return order


def checkout_order_abandon(*, order: Order) -> None:
    """Stop an open order from taking money when the customer starts over with another cart or
    the other way to pay. Best effort: the webhook then marks the order canceled."""
    try:
        if order.checkout_session_id:
            session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
            if session.get("status") == "open":
                stripe_gateway.checkout_session_expire(
                    session_id=order.checkout_session_id,
                    idempotency_key=idempotency_key("order", order.pk, "checkout-session-expire"),
                )
        elif order.payment_intent_id:
            intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=order.payment_intent_id)
            if intent.get("status") in PAYABLE_PI_STATUSES:
                stripe_gateway.payment_intent_cancel(
                    payment_intent_id=order.payment_intent_id,
                    idempotency_key=idempotency_key("order", order.pk, "payment-intent-cancel"),
                    ids={"order": order.number},
                )
    except StripeGatewayError as error:
        logger.warning("checkout order not abandoned order=%s error=%s", order.number, type(error).__name__)


# ---------------------------------------------------------------------------- what Stripe is told


def _description(order: Order, items: Iterable[OrderItem | ItemInput] | None = None) -> str:
    """What the shop's Stripe dashboard and the customer's receipt say was bought (Stripe takes at
    most 1,000 characters); `items` are the order's lines unless given (a revision's new ones)."""
    items = order.items.all() if items is None else items
    lines = ", ".join(f"{item.quantity} × {item.product_name}" for item in items)
    return f"{order.number}: {lines}"[:1000]


def _metadata(order: Order, items: Iterable[OrderItem | ItemInput] | None = None) -> dict[str, str]:
    """The order's ids and lines, for finding it from Stripe (a metadata value: at most 500)."""
    items = order.items.all() if items is None else items
    lines = ", ".join(f"{item.sku or item.product_name} × {item.quantity}" for item in items)
    return {"order_number": order.number, "order_id": str(order.pk), "lines": lines[:500]}


def _shipping(order: Order) -> JsonDict | None:
    address = _address(order.shipping_address)
    if not address.get("line1"):
        return None
    return {"name": order.name or order.email, "address": address}


def _statement_descriptor_suffix(order: Order) -> str:
    return order.number[:22]  # pragma: no mutate: order numbers are far under 22 characters


def _ensure_customer(order: Order) -> None:
    """The order's Stripe Customer (email, name, billing and shipping address: the data that wins
    disputes), created once under `order:<pk>:customer:v1`."""
    if order.stripe_customer_id:
        return
    params: JsonDict = {
        "email": order.email,
        "name": order.name,
        "metadata": {"order_number": order.number, "order_id": str(order.pk)},
    }
    if _address(order.billing_address):
        params["address"] = _address(order.billing_address)
    shipping = _shipping(order)
    if shipping:
        params["shipping"] = shipping
    customer = stripe_gateway.customer_create(
        params=params,
        idempotency_key=idempotency_key("order", order.pk, "customer"),
        ids={"order": order.number},
    )
    unset = Order.objects.filter(pk=order.pk, stripe_customer_id="")
    unset.update(stripe_customer_id=customer["id"], updated_at=timezone.now())
    order.stripe_customer_id = customer["id"]


def _three_d_secure_options() -> JsonDict:
    """The shop's 3-D Secure policy (STRIPE_REQUEST_THREE_D_SECURE), sent on every PaymentIntent
    and Checkout Session: `automatic` (Stripe decides), `any` (whenever the card supports it, so
    the fraud liability shifts to the issuer; frictionless when the issuer allows) or `challenge`."""
    return {"card": {"request_three_d_secure": settings.STRIPE_REQUEST_THREE_D_SECURE}}


def _payment_intent_params(order: Order) -> JsonDict:
    params: JsonDict = {
        "amount": order.amount,
        "currency": order.currency,
        "customer": order.stripe_customer_id,
        "payment_method_types": ["card"],
        "payment_method_options": _three_d_secure_options(),
        "receipt_email": order.email,
        "description": _description(order),
        "metadata": _metadata(order),
        "statement_descriptor_suffix": _statement_descriptor_suffix(order),
    }
    shipping = _shipping(order)
    if shipping:
        params["shipping"] = shipping
    return params


# ---------------------------------------------------------------------------- Payment Element


def payment_element_intent(*, order: Order) -> JsonDict:
    """The order's PaymentIntent, created on first use under the key stored on the order (so a
    double submit, a reload or a second tab all reach Stripe as the same request: one PI)."""
    if order.payment_intent_id:
        intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=order.payment_intent_id)
    else:
        if not order.payment_intent_idempotency_key:
            raise ValueError(f"{order.number} has no stored PaymentIntent key")
        _ensure_customer(order)
        intent = stripe_gateway.payment_intent_create(
            params=_payment_intent_params(order),
            idempotency_key=order.payment_intent_idempotency_key,
            ids={"order": order.number},
        )
    # Link it (and move pending → awaiting payment) through the one state-change service, which
    # also starts its mirror.
    stripe_object_apply(obj=intent, seen_at=None, source="checkout")
    # A new attempt starts: the return page that follows must not be held back by the rate
    # limit of the previous attempt's return page (it would show the old decline as final).
    OrderCheckout.objects.filter(order=order).update(synced_at=None)
    return intent


def payment_element_revise(
    *, order: Order, lines: Sequence[CartLine], details: CustomerDetails
) -> Order | None:
    """Put a changed cart (or changed customer details) on the open order and its PaymentIntent.

    Stripe first: if the PaymentIntent can no longer change (paid meanwhile, processing,
    canceled) Stripe refuses, the order is left as it is and None tells the caller to start a
    new order. The revision (part of the update's idempotency key) is stored before the call."""
    with transaction.atomic():
        checkout = OrderCheckout.objects.select_for_update().get(order=order)
        checkout.revision += 1
        checkout.save(update_fields=["revision", "updated_at"])  # pragma: no mutate: a full save, same row
    revision = checkout.revision
    items = _item_inputs(lines)
    amount = items_amount(items)
    if order.payment_intent_id:
        params: JsonDict = {
            "amount": amount,
            "receipt_email": details.email,
            "description": _description(order, items),
            "metadata": _metadata(order, items),
        }
        # The shipping Stripe is told is the new details' (an unsaved order only carries them).
        shipping = _shipping(
            Order(email=details.email, name=details.name, shipping_address=details.shipping_address)
        )
        if shipping:
            params["shipping"] = shipping
        try:
            stripe_gateway.payment_intent_update(
                payment_intent_id=order.payment_intent_id,
                params=params,
                idempotency_key=idempotency_key("order", order.pk, "payment-intent-update", version=revision),
                ids={"order": order.number, "payment_intent": order.payment_intent_id},
            )
        except InvalidRequest as error:
            logger.info("payment intent not revised order=%s code=%s", order.number, error.code)
            return None
    revised = order_revise(
        order=order,
        email=details.email,
        name=details.name,
        items=items,
        billing_address=_address(details.billing_address),
        shipping_address=_address(details.shipping_address),
    )
    if revised is None:
        return None
    logger.info("checkout order revised order=%s revision=%s", order.number, revision)
    return revised


# ---------------------------------------------------------------------------- Stripe Checkout


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _checkout_session_params(order: Order) -> JsonDict:
    token = order.public_token
    expires_at = order.created_at + CHECKOUT_SESSION_LIFETIME
    success = _site_url(reverse("orders:checkout_success", args=[token]))
    shipping = _shipping(order)
    return {
        "mode": "payment",
        "client_reference_id": order.number,
        "customer": order.stripe_customer_id,
        "line_items": [
            {
                "quantity": item.quantity,
                "price_data": {
                    "currency": order.currency,
                    "unit_amount": item.unit_amount,
                    "product_data": {"name": item.product_name, "metadata": {"sku": item.sku}},
                },
            }
            for item in order.items.all()
        ],
        "metadata": _metadata(order),
        "payment_method_options": _three_d_secure_options(),
        "payment_intent_data": {
            "description": _description(order),
            "metadata": _metadata(order),
            "receipt_email": order.email,
            "statement_descriptor_suffix": _statement_descriptor_suffix(order),
            **({"shipping": shipping} if shipping else {}),  # pragma: no mutate: the SDK drops a None value
        },
        "success_url": success + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": _site_url(reverse("orders:checkout_cancel", args=[token])),
        # From the order's creation, not from now: a retry sends the very same parameters.
        "expires_at": int(expires_at.timestamp()),
    }


class CheckoutUnavailable(Exception):
    """The order can no longer be paid through a Checkout Session (expired, paid, too old)."""


def checkout_session_open(*, order: Order) -> str:
    """The hosted page's address for this order: its open session, or a new one created under
    `order:<pk>:checkout-session:v1`. Raises CheckoutUnavailable when there is none to pay."""
    if order.checkout_session_id:
        session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
        if session.get("status") == "open" and session.get("url"):  # pragma: no mutate: a url only while open
            return str(session["url"])
        raise CheckoutUnavailable(order.number)  # pragma: no mutate: its one catcher never reads the message
    if order.status not in OPEN_STATUSES or order.payment_intent_id:
        # An order with a PaymentIntent of its own (the Payment Element) never gets a session
        # too: two payable objects for one order could both be paid (invariant 2).
        raise CheckoutUnavailable(order.number)  # pragma: no mutate: its one catcher never reads the message
    if order.created_at + CHECKOUT_SESSION_LIFETIME - timezone.now() < CHECKOUT_SESSION_MIN_LIFETIME:
        raise CheckoutUnavailable(order.number)  # pragma: no mutate: its one catcher never reads the message
    _ensure_customer(order)
    session = stripe_gateway.checkout_session_create(
        params=_checkout_session_params(order),
        idempotency_key=idempotency_key("order", order.pk, "checkout-session"),
        ids={"order": order.number},
    )
    # A new session is open: this links it and moves the order to awaiting payment, never fulfils.
    order_apply_checkout_session(order=order, session=session)
    return str(session["url"])


def checkout_session_confirm(*, order: Order, session_id: str) -> bool:
    """The success page. True when the session is this order's and paid, and was applied (the
    same idempotent service as the webhook: paid, fulfilled once). A missing, made-up, foreign
    or unpaid session changes nothing; a made-up id is not even sent to Stripe."""
    session_id = (session_id or "").strip()  # pragma: no mutate: a made-up stand-in matches no session id
    # A non-empty id equal to the order's: the order has a session, and the link names it.
    if not session_id or session_id != order.checkout_session_id:
        return False
    try:
        # Its PaymentIntent and latest charge expanded: the same fetch refreshes their mirrors.
        session = stripe_gateway.checkout_session_retrieve(
            session_id=session_id, expand=["payment_intent.latest_charge"]
        )
    except StripeGatewayError as error:
        logger.warning("checkout success not confirmed order=%s error=%s", order.number, type(error).__name__)
        return False
    if session.get("id") != order.checkout_session_id or session.get("client_reference_id") != order.number:
        return False
    if session.get("status") != "complete" or session.get("payment_status") not in (
        "paid",
        "no_payment_required",
    ):
        return False
    source = f"success-page:{session_id}"
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        stripe_object_apply(obj=intent, seen_at=None, source=source)
    order_apply_checkout_session(order=order, session=session, source=source)
    return True


# ---------------------------------------------------------------------------- return page refresh


def order_payment_refresh(*, order: Order) -> Order:
    """While an order is not settled, fetch its PaymentIntent (or Session) from Stripe and apply
    it like a webhook would. At most once per SYNC_INTERVAL per order, whoever asks: one
    conditional UPDATE claims the slot, across processes."""
    # A failed attempt is final for the customer but not for Stripe: a retry may have paid since.
    if order.status not in OPEN_STATUSES or not (order.payment_intent_id or order.checkout_session_id):
        return order
    now = timezone.now()
    claimed = (
        OrderCheckout.objects.filter(order=order)
        .filter(Q(synced_at__isnull=True) | Q(synced_at__lte=now - SYNC_INTERVAL))
        .update(synced_at=now)
    )
    if not claimed:
        return order
    try:
        if order.payment_intent_id:
            # The latest charge expanded: the attempt's mirror is refreshed by the same fetch.
            intent = stripe_gateway.payment_intent_retrieve(
                payment_intent_id=order.payment_intent_id, expand=["latest_charge"]
            )
            if intent.get("id") == order.payment_intent_id:
                return stripe_object_apply(obj=intent, seen_at=None, source="return-page").order or order
        elif order.checkout_session_id:
            session = stripe_gateway.checkout_session_retrieve(session_id=order.checkout_session_id)
            if session.get("client_reference_id") == order.number:
                return order_apply_checkout_session(order=order, session=session, source="return-page").order
    except StripeGatewayError as error:
        logger.warning("order refresh failed order=%s error=%s", order.number, type(error).__name__)
    return order
