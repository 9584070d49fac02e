"""Reads of orders."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from core.stripe_objects import id_of
from orders.models import Order, order_pk_from_number


def order_get_by_any_id(*, value: str) -> Order | None:
    """Find an order by whatever id staff or Stripe give: `ORD-000123`, `pi_…`, `cs_…`, `ch_…`,
    the public token."""
    value = value.strip()
    if not value:
        return None
    pk = order_pk_from_number(value) if value.upper().startswith("ORD-") else None
    if pk is not None:
        return Order.objects.filter(pk=pk).first()
    return (
        Order.objects.filter(
            Q(payment_intent_id=value)
            | Q(checkout_session_id=value)
            | Q(charge_id=value)
            | Q(public_token=value)
        )
        .order_by("pk")
        .first()
    )


def order_search(*, query: str) -> QuerySet[Order]:
    """Orders matching a staff search: any id, or an email."""
    query = query.strip()
    pk = order_pk_from_number(query) if query.upper().startswith("ORD-") else None
    condition = (
        Q(payment_intent_id=query)
        | Q(checkout_session_id=query)
        | Q(charge_id=query)
        | Q(stripe_customer_id=query)
        | Q(email__iexact=query)
    )
    if pk is not None:
        condition |= Q(pk=pk)
    return Order.objects.filter(condition)


def order_find_for_stripe_object(*, obj: dict[str, Any], for_update: bool = False) -> Order | None:
    """The order a Stripe object (PaymentIntent, Charge, Refund, Checkout Session) belongs to:
    our `metadata.order_id` / `metadata.order_number`, then the Checkout Session's
    `client_reference_id`, then the ids we stored on the order. `for_update` locks the row it
    finds (inside the caller's transaction), so a caller about to change it reads it once."""
    orders = Order.objects.select_for_update() if for_update else Order.objects.all()
    metadata = obj.get("metadata") or {}
    for reference in (metadata.get("order_id"), metadata.get("order_number"), obj.get("client_reference_id")):
        pk = order_pk_from_number(str(reference)) if reference else None
        if pk is not None:
            order = orders.filter(pk=pk).first()
            if order is not None:
                return order
    kind = obj.get("object")
    object_id = str(obj.get("id") or "")
    if kind == "payment_intent" and object_id:
        return orders.filter(payment_intent_id=object_id).first()
    if kind == "checkout.session" and object_id:
        return orders.filter(checkout_session_id=object_id).first()
    payment_intent = id_of(obj.get("payment_intent"))
    if payment_intent:
        return orders.filter(payment_intent_id=payment_intent).first()
    charge = object_id if kind == "charge" else id_of(obj.get("charge"))
    if charge:
        return orders.filter(charge_id=charge).first()
    return None


def order_get_by_public_token(*, token: str) -> Order | None:
    """The order behind a customer-facing URL, with its items; None for an unknown token."""
    if not token or len(token) > 64:
        return None
    return Order.objects.prefetch_related("items").filter(public_token=token).first()
