"""Reads for the order's admin page (its hub): the Stripe objects the order is made of, the
events about them and its refunds. Reads only, from our own tables."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from orders.models import Order
from payments.models import Charge, Refund, StripeEvent

# The order's page lists this many of its newest events; the rest are one link away.
ORDER_EVENTS_SHOWN = 20


@dataclass(frozen=True)
class OrderEvents:
    events: list[StripeEvent]  # newest first, at most ORDER_EVENTS_SHOWN
    total: int
    object_ids: list[str]  # what the events were filtered on, for the full list's link


def order_refunds(*, order: Order) -> QuerySet[Refund]:
    """The order's Refund mirrors (ours or made in the Dashboard), oldest first. A refund whose
    order was not known when it was mirrored still belongs by its PaymentIntent."""
    match = Q(order=order)
    if order.payment_intent_id:
        match |= Q(order__isnull=True, payment_intent_id=order.payment_intent_id)
    return Refund.objects.filter(match).order_by("stripe_created", "pk")


def order_stripe_object_ids(*, order: Order) -> list[str]:
    """Every Stripe id the order is made of: its PaymentIntent and Checkout Session, each charge
    attempt, its refunds and its disputes."""
    ids = {order.payment_intent_id, order.checkout_session_id, order.charge_id}
    ids |= set(Charge.objects.filter(order=order).values_list("stripe_id", flat=True))
    ids |= set(order_refunds(order=order).values_list("stripe_id", flat=True))
    ids |= set(order.disputes.values_list("stripe_id", flat=True))
    return sorted(object_id for object_id in ids if object_id)


def order_stripe_events(*, order: Order, limit: int = ORDER_EVENTS_SHOWN) -> OrderEvents:
    """The events whose object is one of the order's Stripe objects, newest first (Stripe's
    `created`, then arrival), capped at `limit`, with how many there are in all."""
    object_ids = order_stripe_object_ids(order=order)
    if not object_ids:
        return OrderEvents(events=[], total=0, object_ids=[])
    events = StripeEvent.objects.filter(object_id__in=object_ids).defer("payload")
    newest = list(events.order_by("-stripe_created", "-pk")[:limit])
    total = len(newest) if len(newest) < limit else events.count()
    return OrderEvents(events=newest, total=total, object_ids=object_ids)
