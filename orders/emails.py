"""The order confirmation email: sent once, after fulfillment, by the worker."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.money import format_money
from orders.models import Order

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
        claimed = Order.objects.filter(
            pk=order_pk, confirmation_sent_at__isnull=True, fulfillment__isnull=False, email__gt=""
        ).update(confirmation_sent_at=timezone.now())
        if not claimed:
            return False
        order = Order.objects.prefetch_related("items").get(pk=order_pk)
        order_confirmation_message(order=order).send(fail_silently=False)
    logger.info("order confirmation sent order=%s", order.number)
    return True


def order_confirmation_enqueue(*, order_pk: int) -> None:
    """Queue the email task; called on commit of the fulfillment. A broker that is down must not
    undo a fulfillment, so this logs and carries on."""
    from orders.tasks import order_send_confirmation

    try:
        order_send_confirmation.apply_async(args=(order_pk,), retry=False)
    except Exception as error:
        logger.warning("order confirmation not queued order_pk=%s (%s)", order_pk, type(error).__name__)
