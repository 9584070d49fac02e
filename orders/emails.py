"""The order confirmation email: sent once, after fulfillment, by the worker."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.celery import task_send
from config.money import format_money
from core.wakeups import wake, wakeup_release
from orders.models import Order

# The sweep leaves fresh fulfillments to the task queued on commit, and never mails a customer
# about an order from long ago (a first deploy, a restored backup).
SWEEP_AFTER = timedelta(minutes=10)
SWEEP_WINDOW = timedelta(days=3)
SWEEP_BATCH = 200

logger = logging.getLogger(__name__)

SUBJECT = "Your order {number} is confirmed"


def order_confirmation_message(*, order: Order) -> EmailMultiAlternatives:
    """Number, items, total and a link to the order page. No card data: we never have any."""
    context = {
        "order": order,
        "items": list(order.items.all()),
        "total": format_money(order.amount, order.currency),
        "order_url": settings.SITE_URL.rstrip("/")
        + reverse("orders:order_detail", args=[order.public_token]),
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT.format(number=order.number),
        body=render_to_string("emails/order_confirmation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
    )
    message.attach_alternative(render_to_string("emails/order_confirmation.html", context), "text/html")
    return message


def order_confirmation_send(*, order_pk: int) -> bool:
    """Send the confirmation exactly once. One conditional UPDATE claims it (`WHERE
    confirmation_sent_at IS NULL`) and holds the row until the send is done: a second run, even a
    concurrent one, finds it claimed and sends nothing; a failed send rolls the claim back so a
    retry sends it. Returns whether this call sent it."""
    with transaction.atomic():
        # No join in this UPDATE: Django would turn one into `WHERE id IN (subquery)`, which
        # PostgreSQL does not re-check after waiting for a concurrent claim, and both would send.
        # `fulfilled_at` is set in the transaction that stores the Fulfillment row.
        claimed = Order.objects.filter(
            pk=order_pk, fulfilled_at__isnull=False, confirmation_sent_at__isnull=True, email__gt=""
        ).update(confirmation_sent_at=timezone.now())
        if not claimed:
            return False
        order = Order.objects.prefetch_related("items").get(pk=order_pk)
        order_confirmation_message(order=order).send(fail_silently=False)
    logger.info("order confirmation sent order=%s", order.number)
    return True


CONFIRMATIONS_WAKEUP = "order-confirmations"
CONFIRMATIONS_TASK = "orders.send_confirmations"
# Confirmations one drain task sends before it hands over to a fresh task.
DRAIN_LIMIT = 500


def order_confirmations_wake() -> None:
    """Called on commit of a fulfillment: wake the confirmation drain, one broker message per
    burst of fulfillments (core.wakeups). A broker that is down must not undo a fulfillment:
    the sweep below sends what no drain did."""
    wake(name=CONFIRMATIONS_WAKEUP, publish=order_confirmations_drain_publish)


def order_confirmations_drain_publish() -> None:
    # By name: the tasks module calls this one, not the other way round.
    task_send(name=CONFIRMATIONS_TASK, retry=False)


def _send_each(pks: list[int]) -> int:
    """Send each order's confirmation through the claim; a refused send is logged and left for
    the sweep's next run, and the others go on."""
    sent = 0
    for pk in pks:
        try:
            sent += order_confirmation_send(order_pk=pk)
        except (smtplib.SMTPException, ConnectionError, TimeoutError) as error:
            logger.warning("order confirmation not sent order_pk=%s (%s)", pk, type(error).__name__)
    return sent


def order_confirmations_drain(*, limit: int = DRAIN_LIMIT) -> int:
    """Send the confirmations of the orders fulfilled in the last `SWEEP_WINDOW` and not yet
    confirmed, oldest first. The wake-up row goes before the look, so a fulfillment committed
    after it wakes the next drain."""
    wakeup_release(name=CONFIRMATIONS_WAKEUP)
    pks = list(
        Order.objects.filter(
            confirmation_sent_at__isnull=True,
            email__gt="",
            fulfilled_at__gte=timezone.now() - SWEEP_WINDOW,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = _send_each(pks)
    if len(pks) == limit and sent:
        # More may be waiting: hand over. Not when every send was refused (the mail server is
        # down): the sweep tries again in 10 minutes instead of a drain spinning on refusals.
        order_confirmations_wake()
    return sent


def order_confirmation_send_missed() -> int:
    """The beat job's half of "exactly once": fulfilled orders whose confirmation never went out
    (broker down at fulfillment, message lost, a refused send) get it now, through the same
    claim. An order whose mail server refuses is logged and tried on the next run."""
    now = timezone.now()
    pks = Order.objects.filter(
        confirmation_sent_at__isnull=True,
        email__gt="",
        fulfillment__created_at__lt=now - SWEEP_AFTER,
        fulfillment__created_at__gte=now - SWEEP_WINDOW,
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    sent = _send_each(list(pks))
    if sent:
        logger.info("order confirmations sent by the sweep count=%s", sent)
    return sent
