"""Billing's writes: subscribe, cancel at period end, change the card, and the mirrors' syncs.

- **One sync service per mirror** (`subscription_sync`, `invoice_sync`): the event handlers, the
  account page's refresh and the re-sync job all go through them. They upsert by `stripe_id`
  and never move backwards: a terminal subscription (`canceled`, `incomplete_expired`) is final,
  an invoice's status only climbs (`draft → open → uncollectible → paid | void`), and within
  that an older snapshot (by Stripe time) changes nothing.
- **Events are hints, Stripe is the ledger**: a billing event makes us fetch the subscription
  and its latest invoice (`billing_refresh`), so duplicates, reordering and a dropped event in
  between change nothing; the re-sync job repairs what no event brought.
- **Every write carries a key stored before the call** (`core.keys.idempotency_key`).
- **Dunning**: one `DunningNotice` row per (invoice, attempt), inserted `ON CONFLICT DO NOTHING`;
  only the inserter queues the email.

Lock order: the event row (held by the event processing), the subscription row, the invoice row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing.models import DunningNotice, Invoice, Plan, Subscriber, Subscription
from billing.selectors import subscription_has_access
from config.celery import task_send
from config.money import format_money
from core.keys import idempotency_key
from core.stripe_objects import id_of, time_of
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send_on_commit

JsonDict = dict[str, Any]
logger = logging.getLogger(__name__)

SEND_DUNNING_TASK = "billing.send_dunning_notice"
SEND_WELCOME_TASK = "billing.send_welcome"
TERMINAL_STATUSES = (Subscription.Status.CANCELED, Subscription.Status.INCOMPLETE_EXPIRED)
INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------- subscribe


class BillingUnavailable(Exception):
    """Stripe could not be reached or refused; nothing was charged."""


def plan_price_ensure(*, plan: Plan) -> str:
    """The plan's Stripe Price, created once under `plan:<pk>:price:v1`."""
    if plan.stripe_price_id:
        return plan.stripe_price_id
    product = stripe_gateway.product_create(
        params={"name": plan.name, "metadata": {"plan": plan.slug}},
        idempotency_key=idempotency_key("plan", plan.pk, "product"),
    )
    price = stripe_gateway.price_create(
        params={
            "product": product["id"],
            "currency": plan.currency,
            "unit_amount": plan.amount,
            "recurring": {"interval": plan.interval},
            "metadata": {"plan": plan.slug},
        },
        idempotency_key=idempotency_key("plan", plan.pk, "price"),
    )
    Plan.objects.filter(pk=plan.pk, stripe_price_id="").update(stripe_price_id=price["id"])
    plan.refresh_from_db()
    return plan.stripe_price_id


def subscriber_create(*, plan: Plan, email: str, form_token: str | None = None) -> Subscriber:
    """A new subscriber; with the subscribe form's token, the one that form already made (a
    double click or a resubmit), whose Stripe writes then reuse their stored keys."""
    if not form_token:
        return Subscriber.objects.create(plan=plan, email=email)
    try:
        with transaction.atomic():
            return Subscriber.objects.create(plan=plan, email=email, form_token=form_token)
    except IntegrityError:
        return Subscriber.objects.get(form_token=form_token)


def subscriber_subscribe(*, subscriber: Subscriber) -> Subscription:
    """Create the customer and a `default_incomplete` subscription (once each, keys stored first);
    the first invoice is then paid on our page with the Payment Element."""
    if subscriber.stripe_subscription_id:
        existing = Subscription.objects.filter(stripe_id=subscriber.stripe_subscription_id).first()
        if existing is not None:
            return existing
    try:
        price_id = plan_price_ensure(plan=subscriber.plan)
        if not subscriber.stripe_customer_id:
            key = idempotency_key("subscriber", subscriber.pk, "customer")
            Subscriber.objects.filter(pk=subscriber.pk).update(customer_key=key)
            customer = stripe_gateway.customer_create(
                params={"email": subscriber.email, "metadata": {"subscriber": str(subscriber.pk)}},
                idempotency_key=key,
                ids={"subscriber": subscriber.pk},  # pragma: no mutate: ids only label the gateway's log line
            )
            subscriber.stripe_customer_id = customer["id"]
            Subscriber.objects.filter(pk=subscriber.pk).update(stripe_customer_id=customer["id"])
        key = idempotency_key("subscriber", subscriber.pk, "subscription")
        Subscriber.objects.filter(pk=subscriber.pk).update(subscription_key=key)
        obj = stripe_gateway.subscription_create(
            params={
                "customer": subscriber.stripe_customer_id,
                "items": [{"price": price_id}],
                "payment_behavior": "default_incomplete",
                "payment_settings": {"save_default_payment_method": "on_subscription"},
                "metadata": {"subscriber": str(subscriber.pk)},
            },
            idempotency_key=key,
            ids={"subscriber": subscriber.pk},  # pragma: no mutate: ids only label the gateway's log line
        )
    except stripe_gateway.StripeGatewayError as exc:
        raise BillingUnavailable(str(exc)) from exc
    Subscriber.objects.filter(pk=subscriber.pk).update(stripe_subscription_id=obj["id"])
    subscriber.stripe_subscription_id = obj["id"]
    result = subscription_sync(obj=obj)
    billing_refresh(subscription_id=obj["id"])
    return result.subscription


@dataclass(frozen=True)
class PaymentStep:
    """What the pay page needs: the PaymentIntent's client secret and whether only 3-D Secure
    is left (the card is already there)."""

    client_secret: str
    requires_action: bool
    invoice: Invoice


def invoice_payment_step(*, invoice: Invoice) -> PaymentStep | None:
    """The open invoice's PaymentIntent, fetched from Stripe, if the customer can act on it."""
    if invoice.status != Invoice.Status.OPEN:
        return None
    for payment in stripe_gateway.invoice_payment_list(invoice_id=invoice.stripe_id):
        pi = (payment.get("payment") or {}).get("payment_intent")
        if not isinstance(pi, dict):
            continue
        if pi.get("status") in ("requires_payment_method", "requires_confirmation", "requires_action"):
            return PaymentStep(str(pi["client_secret"]), pi.get("status") == "requires_action", invoice)
    return None


def subscription_cancel_at_period_end(*, subscription: Subscription) -> Subscription:
    if subscription.status in TERMINAL_STATUSES or subscription.cancel_at_period_end:
        return subscription
    obj = stripe_gateway.subscription_update(
        subscription_id=subscription.stripe_id,
        params={"cancel_at_period_end": True},
        idempotency_key=idempotency_key("subscription", subscription.pk, "cancel-at-period-end"),
    )
    return subscription_sync(obj=obj).subscription


def subscriber_setup_intent(*, subscriber: Subscriber) -> JsonDict:
    """A SetupIntent for a new card: one per change, `subscriber:<pk>:setup-intent:v<n>`."""
    with transaction.atomic():
        locked = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if locked.setup_intent_id:
            current = stripe_gateway.setup_intent_retrieve(setup_intent_id=locked.setup_intent_id)
            if current.get("status") in (
                "requires_payment_method",
                "requires_confirmation",
                "requires_action",
            ):
                return current
        locked.card_changes += 1
        locked.save(
            update_fields=[  # pragma: no mutate: the row is locked and fresh: all columns match
                "card_changes",
                "updated_at",
            ]
        )
    seti = stripe_gateway.setup_intent_create(
        params={
            "customer": locked.stripe_customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": {"subscriber": str(locked.pk)},
        },
        idempotency_key=idempotency_key("subscriber", locked.pk, "setup-intent", version=locked.card_changes),
    )
    Subscriber.objects.filter(pk=locked.pk).update(setup_intent_id=seti["id"])
    return seti


def subscriber_card_apply(*, subscriber: Subscriber) -> bool:
    """After the card page: if Stripe says our SetupIntent succeeded, make its card the
    subscription's default (and pay an open invoice with it at the next retry)."""
    if not subscriber.setup_intent_id or not subscriber.stripe_subscription_id:
        return False
    seti = stripe_gateway.setup_intent_retrieve(setup_intent_id=subscriber.setup_intent_id)
    if seti.get("status") != "succeeded" or not seti.get("payment_method"):
        return False
    obj = stripe_gateway.subscription_update(
        subscription_id=subscriber.stripe_subscription_id,
        params={"default_payment_method": id_of(seti["payment_method"])},
        idempotency_key=idempotency_key("setup_intent", seti["id"], "default-payment-method"),
    )
    subscription_sync(obj=obj)
    return True


# ---------------------------------------------------------------------------- sync


@dataclass(frozen=True)
class SubscriptionSyncResult:
    subscription: Subscription
    changed: bool
    previous_status: str


def _subscription_fields(obj: JsonDict) -> dict[str, Any]:
    items = ((obj.get("items") or {}).get("data")) or [{}]
    item = items[0]
    price = item.get("price") or {}
    return {
        "status": str(obj.get("status") or ""),
        "customer_id": id_of(obj.get("customer")),
        "price_id": id_of(price),
        "amount": int(price.get("unit_amount") or 0) * int(item.get("quantity") or 1),
        "currency": str(price.get("currency") or obj.get("currency") or ""),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "current_period_start": time_of(item.get("current_period_start")),
        "current_period_end": time_of(item.get("current_period_end")),
        "ended_at": time_of(obj.get("ended_at")),
        "latest_invoice_id": id_of(obj.get("latest_invoice")),
        "default_payment_method": id_of(obj.get("default_payment_method")),
    }


def subscription_sync(*, obj: JsonDict, seen_at_ms: int | None = None) -> SubscriptionSyncResult:
    """Mirror a Subscription snapshot (`seen_at_ms` None: we fetched it just now)."""
    seen = _now_ms() if seen_at_ms is None else seen_at_ms
    fields = _subscription_fields(obj)
    if fields["status"] not in Subscription.Status.values:
        raise ValueError(f"unknown subscription status {fields['status']!r}")
    stripe_id = str(obj["id"])
    subscriber_pk = (obj.get("metadata") or {}).get("subscriber")
    with transaction.atomic():
        # Without this read, the insert below hits the unique stripe_id and the except branch
        # reads the same row under the same lock.
        locked = Subscription.objects.select_for_update()
        sub = locked.filter(stripe_id=stripe_id).first()  # pragma: no mutate: fast path; the insert finds it
        if sub is None:
            try:
                with transaction.atomic():
                    sub = Subscription.objects.create(
                        stripe_id=stripe_id,
                        livemode=bool(obj.get("livemode")),
                        stripe_created=time_of(obj.get("created")),
                        synced_at=timezone.now(),
                        subscriber=Subscriber.objects.filter(pk=int(str(subscriber_pk))).first()
                        if str(subscriber_pk).isdigit()
                        else None,
                        status_at=seen,
                        **fields,
                    )
                # No status before: any value but "active" or "past_due" raises the same alerts.
                _after_subscription(sub, previous="")  # pragma: no mutate: log-only unless active or past_due
                return SubscriptionSyncResult(sub, True, "")
            except IntegrityError:
                sub = Subscription.objects.select_for_update().get(stripe_id=stripe_id)
        previous = sub.status
        if previous in TERMINAL_STATUSES or seen < sub.status_at:
            return SubscriptionSyncResult(sub, False, previous)
        changed = [name for name, value in fields.items() if getattr(sub, name) != value]
        for name in changed:
            setattr(sub, name, fields[name])
        sub.status_at = seen
        sub.synced_at = timezone.now()
        sub.save(
            update_fields=[  # pragma: no mutate: the row is locked and fresh: all columns match
                *changed,
                "status_at",
                "synced_at",
                "updated_at",
            ]
        )
        if previous != sub.status:
            _after_subscription(sub, previous=previous)
        return SubscriptionSyncResult(sub, bool(changed), previous)


def _after_subscription(sub: Subscription, *, previous: str) -> None:
    logger.info(
        "subscription %s: %s -> %s (%s)",  # pragma: no mutate: log wording
        sub.stripe_id,
        previous or "new",  # pragma: no mutate: log wording
        sub.status,
        source_label(sub),
    )
    if sub.status == Subscription.Status.ACTIVE and sub.subscriber_id is not None:
        pk = sub.subscriber_id
        transaction.on_commit(lambda: task_send(name=SEND_WELCOME_TASK, args=[pk]))
    if previous in ("active", "past_due") and not subscription_has_access(subscription=sub):
        alert_send_on_commit(
            kind=AlertKind.SUBSCRIPTION_ENDED,
            message=f"Subscription {sub.stripe_id}: access ended ({sub.status})",
            ids={"subscription": sub.stripe_id, "customer": sub.customer_id},
        )


def source_label(sub: Subscription) -> str:
    # Only the log line above reads it.
    return (
        f"subscriber {sub.subscriber_id}"  # pragma: no mutate: log wording
        if sub.subscriber_id  # pragma: no mutate: log wording
        else "no subscriber"  # pragma: no mutate: log wording
    )


def _invoice_fields(obj: JsonDict, payment_intent: JsonDict | None) -> dict[str, Any]:
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    fields: dict[str, Any] = {
        "customer_id": id_of(obj.get("customer")),
        "number": str(obj.get("number") or ""),
        "status": str(obj.get("status") or ""),
        "billing_reason": str(obj.get("billing_reason") or ""),
        "amount_due": int(obj.get("amount_due") or 0),
        "amount_paid": int(obj.get("amount_paid") or 0),
        "currency": str(obj.get("currency") or ""),
        "attempt_count": int(obj.get("attempt_count") or 0),
        "next_payment_attempt": time_of(obj.get("next_payment_attempt")),
        "period_start": time_of(
            ((obj.get("lines") or {}).get("data") or [{}])[0].get("period", {}).get("start")
        ),
        "period_end": time_of(((obj.get("lines") or {}).get("data") or [{}])[0].get("period", {}).get("end")),
        "paid_at": time_of((obj.get("status_transitions") or {}).get("paid_at")),
        "subscription_id": id_of(parent.get("subscription")) or None,
    }
    if payment_intent is not None:
        fields["payment_intent_id"] = str(payment_intent.get("id") or "")
        fields["payment_intent_status"] = str(payment_intent.get("status") or "")
    return fields


def invoice_sync(
    *, obj: JsonDict, seen_at_ms: int | None = None, payment_intent: JsonDict | None = None
) -> Invoice:
    """Mirror an Invoice snapshot; forward-only by status rank, then by Stripe time."""
    seen = _now_ms() if seen_at_ms is None else seen_at_ms
    fields = _invoice_fields(obj, payment_intent)
    if fields["status"] not in INVOICE_RANK:
        raise ValueError(f"unknown invoice status {fields['status']!r}")
    stripe_id = str(obj["id"])
    with transaction.atomic():
        # Without this read, the insert below hits the unique stripe_id and the except branch
        # reads the same row under the same lock.
        locked = Invoice.objects.select_for_update()
        inv = locked.filter(stripe_id=stripe_id).first()  # pragma: no mutate: fast path; the insert finds it
        if inv is None:
            try:
                with transaction.atomic():
                    return Invoice.objects.create(
                        stripe_id=stripe_id,
                        livemode=bool(obj.get("livemode")),
                        stripe_created=time_of(obj.get("created")),
                        synced_at=timezone.now(),
                        status_at=seen,
                        **fields,
                    )
            except IntegrityError:
                inv = Invoice.objects.select_for_update().get(stripe_id=stripe_id)
        current, new = INVOICE_RANK[inv.status], INVOICE_RANK[fields["status"]]
        if inv.status in ("paid", "void") or new < current or (new == current and seen < inv.status_at):
            return inv
        fields["attempt_count"] = max(fields["attempt_count"], inv.attempt_count)
        changed = [name for name, value in fields.items() if getattr(inv, name) != value]
        for name in changed:
            setattr(inv, name, fields[name])
        inv.status_at = seen
        inv.synced_at = timezone.now()
        inv.save(
            update_fields=[  # pragma: no mutate: the row is locked and fresh: all columns match
                *changed,
                "status_at",
                "synced_at",
                "updated_at",
            ]
        )
        return inv


def _invoice_fetch(invoice_id: str) -> tuple[JsonDict, JsonDict | None]:
    obj = stripe_gateway.invoice_retrieve(invoice_id=invoice_id)
    pi: JsonDict | None = None
    for payment in stripe_gateway.invoice_payment_list(invoice_id=invoice_id):
        candidate = (payment.get("payment") or {}).get("payment_intent")
        if isinstance(candidate, dict) and (pi is None or payment.get("is_default")):
            pi = candidate
    return obj, pi


def billing_refresh(*, subscription_id: str, invoice_id: str | None = None) -> Subscription:
    """Fetch the subscription and its latest invoice (and `invoice_id`) from Stripe and sync them;
    then send the dunning notice an unpaid renewal calls for. What every billing event does."""
    sub_obj = stripe_gateway.subscription_retrieve(subscription_id=subscription_id)
    result = subscription_sync(obj=sub_obj)
    ids = {i for i in (invoice_id, id_of(sub_obj.get("latest_invoice"))) if i}
    for inv_id in sorted(ids):
        obj, pi = _invoice_fetch(inv_id)
        inv = invoice_sync(obj=obj, payment_intent=pi)
        dunning_notice_record(invoice=inv, subscription=result.subscription)
    result.subscription.refresh_from_db()
    return result.subscription


def billing_resync(*, since: int) -> int:
    """The recovery job: every subscription created since `since` (unix seconds), fetched from
    Stripe with its latest invoice, so a dropped event is repaired. Returns how many."""
    count = 0
    for obj in stripe_gateway.subscription_list(since=since):
        billing_refresh(subscription_id=str(obj["id"]))
        count += 1
    return count


# ---------------------------------------------------------------------------- dunning


def dunning_notice_record(*, invoice: Invoice, subscription: Subscription) -> DunningNotice | None:
    """One notice per failed automatic attempt of a renewal (the first invoice is paid on our page,
    with the customer there). Inserted once; the email is queued only by the inserter."""
    if invoice.billing_reason == "subscription_create" or invoice.attempt_count < 1:
        return None
    if invoice.status != Invoice.Status.OPEN:
        return None
    if not subscription_has_access(subscription=subscription):
        kind = DunningNotice.Kind.ENDED
    elif invoice.needs_authentication:
        kind = DunningNotice.Kind.AUTHENTICATE
    else:
        kind = DunningNotice.Kind.PAY
    with transaction.atomic():
        notice, created = DunningNotice.objects.get_or_create(
            invoice=invoice, attempt=invoice.attempt_count, defaults={"kind": kind}
        )
    if not created:
        return None
    notice_pk = notice.pk
    transaction.on_commit(lambda: task_send(name=SEND_DUNNING_TASK, args=[notice_pk]))
    alert_send_on_commit(
        kind=AlertKind.RENEWAL_FAILED,
        message=f"Invoice {invoice.stripe_id} of {subscription.stripe_id}: attempt {invoice.attempt_count} "
        f"failed ({kind})",
        ids={"invoice": invoice.stripe_id, "subscription": subscription.stripe_id},
    )
    return notice


DUNNING_SUBJECTS = {
    DunningNotice.Kind.PAY: "We couldn't take your subscription payment",
    DunningNotice.Kind.AUTHENTICATE: "Your bank needs you to confirm your subscription payment",
    DunningNotice.Kind.ENDED: "Your subscription has ended",
}


def account_url(subscriber: Subscriber) -> str:
    site = settings.SITE_URL.rstrip(
        "/"  # pragma: no mutate: "XX/XX" strips the same from an address that never ends in X
    )
    return site + reverse("billing:account", args=[subscriber.public_token])


def dunning_notice_send(*, notice_pk: int) -> bool:
    """Send one notice once: a conditional UPDATE claims it, a refused send rolls it back."""
    with transaction.atomic():
        claimed = DunningNotice.objects.filter(pk=notice_pk, sent_at__isnull=True).update(
            sent_at=timezone.now()
        )
        if not claimed:
            return False
        notice = DunningNotice.objects.select_related(
            "invoice__subscription__subscriber"  # pragma: no mutate: select_related only saves queries
        ).get(pk=notice_pk)
        sub = notice.invoice.subscription
        subscriber = sub.subscriber if sub is not None else None
        if subscriber is None:
            return False
        context = {
            "notice": notice,
            "amount": format_money(notice.invoice.amount_due, notice.invoice.currency),
            "next_attempt": notice.invoice.next_payment_attempt,
            # The "ended" email links the account page only (templates/emails/billing_dunning.txt).
            "pay_url": account_url(subscriber) + "pay/",
            "account_url": account_url(subscriber),
        }
        EmailMultiAlternatives(
            subject=DUNNING_SUBJECTS[DunningNotice.Kind(notice.kind)],
            body=render_to_string("emails/billing_dunning.txt", context),
            to=[subscriber.email],
        ).send()
    return True


WELCOME_SUBJECT = "Your subscription to {plan} is active"


def subscriber_welcome_send(*, subscriber_pk: int) -> bool:
    with transaction.atomic():
        claimed = Subscriber.objects.filter(pk=subscriber_pk, welcome_sent_at__isnull=True).update(
            welcome_sent_at=timezone.now()
        )
        if not claimed:
            return False
        subscriber = Subscriber.objects.select_related(
            "plan"  # pragma: no mutate: select_related only saves queries
        ).get(pk=subscriber_pk)
        context = {"subscriber": subscriber, "account_url": account_url(subscriber)}
        EmailMultiAlternatives(
            subject=WELCOME_SUBJECT.format(plan=subscriber.plan.name),
            body=render_to_string("emails/billing_welcome.txt", context),
            to=[subscriber.email],
        ).send()
    return True


def dunning_notices_send_missed(*, older_than_seconds: int = 60) -> int:
    """Send the notices whose task was lost (the broker down at commit): the sweep behind the
    task queued on commit, through the same claim, so nothing is sent twice."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    sent = 0
    for pk in DunningNotice.objects.filter(
        sent_at__isnull=True, created_at__lt=cutoff
    ).values_list(
        "pk",  # pragma: no mutate: with no field named, flat yields the first: the id
        flat=True,
    )[:200]:
        sent += dunning_notice_send(notice_pk=pk)
    return sent
