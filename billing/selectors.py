"""Billing's reads. Access is derived from the subscription's status as Stripe reports it."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import Invoice, Plan, Subscriber, Subscription

# While Stripe retries a failed renewal the customer keeps access (`past_due`); it stops when
# Stripe ends the subscription or marks it unpaid, at that moment.
ACCESS_STATUSES = (Subscription.Status.ACTIVE, Subscription.Status.TRIALING, Subscription.Status.PAST_DUE)


def subscription_has_access(*, subscription: Subscription | None) -> bool:
    return subscription is not None and subscription.status in ACCESS_STATUSES


def plan_list_active() -> QuerySet[Plan]:
    return Plan.objects.filter(active=True)


def subscriber_get_by_public_token(*, token: str) -> Subscriber | None:
    return Subscriber.objects.select_related("plan").filter(public_token=token).first()


def subscriber_subscription(*, subscriber: Subscriber) -> Subscription | None:
    if not subscriber.stripe_subscription_id:
        return None
    return Subscription.objects.filter(stripe_id=subscriber.stripe_subscription_id).first()


def subscription_invoices(*, subscription: Subscription) -> QuerySet[Invoice]:
    return Invoice.objects.filter(subscription_id=subscription.stripe_id).order_by("-stripe_created", "-pk")


def subscription_open_invoice(*, subscription: Subscription) -> Invoice | None:
    return subscription_invoices(subscription=subscription).filter(status=Invoice.Status.OPEN).first()


def subscriptions_past_due() -> QuerySet[Subscription]:
    return Subscription.objects.filter(status=Subscription.Status.PAST_DUE)
