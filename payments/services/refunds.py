"""The Refund mirror, kept from refund.* events and re-syncs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from orders.models import Order
from orders.services import OrderChange, order_apply_refunded_amount
from payments.models import REFUND_STATUS_RANK, Refund

JsonDict = dict[str, Any]


def _id_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def refund_apply(*, refund: JsonDict, order: Order | None) -> tuple[Refund, OrderChange | None]:
    """Mirror a Refund snapshot (status only moves forward) and, once it has succeeded, raise the
    order's refunded amount. Lock order: the order row, then the refund row."""
    with transaction.atomic():
        if order is not None:
            order = Order.objects.select_for_update().get(pk=order.pk)
        status = str(refund.get("status") or Refund.Status.PENDING)
        created = refund.get("created")
        mirror, created_now = Refund.objects.select_for_update().get_or_create(
            stripe_id=str(refund["id"]),
            defaults={
                "order": order,
                "payment_intent_id": _id_of(refund.get("payment_intent")),
                "charge_id": _id_of(refund.get("charge")),
                "amount": int(refund.get("amount") or 0),
                "currency": str(refund.get("currency") or (order.currency if order else "usd")).lower(),
                "status": status,
                "failure_reason": str(refund.get("failure_reason") or "")[:64],
                "livemode": bool(refund.get("livemode")),
                "stripe_created": datetime.fromtimestamp(created, tz=UTC)
                if isinstance(created, int)
                else None,
                "synced_at": timezone.now(),
            },
        )
        if not created_now and REFUND_STATUS_RANK.get(status, -1) > REFUND_STATUS_RANK.get(mirror.status, -1):
            mirror.status = status
            mirror.failure_reason = str(refund.get("failure_reason") or "")[:64]
            mirror.synced_at = timezone.now()
            if order is not None and mirror.order_id is None:
                mirror.order = order
            mirror.save(update_fields=["status", "failure_reason", "synced_at", "order", "updated_at"])
        change = None
        if order is not None and mirror.status == Refund.Status.SUCCEEDED:
            succeeded = order.refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount"))
            change = order_apply_refunded_amount(order=order, amount_refunded=int(succeeded["total"] or 0))
        return mirror, change
