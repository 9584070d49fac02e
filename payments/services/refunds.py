"""The Refund mirror, kept from refund.* events and re-syncs."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.stripe_objects import id_of, time_of
from orders.models import Order
from orders.services import OrderChange, order_apply_refund_failed, order_apply_refunded_amount
from payments.models import (
    REFUND_REQUEST_STATUS_RANK,
    REFUND_STATUS_RANK,
    REFUND_STATUS_TO_REQUEST,
    Refund,
    RefundRequest,
)

JsonDict = dict[str, Any]


MOVED_FIELDS = ["status", "failure_reason", "synced_at", "order", "updated_at"]


def refund_apply(*, refund: JsonDict, order: Order | None) -> tuple[Refund, OrderChange | None]:
    """Mirror a Refund snapshot (status only moves forward) and, once it has succeeded, raise the
    order's refunded amount; lower it again if the refund then fails. Lock order: the order row,
    then the refund row."""
    with transaction.atomic():
        if order is not None:
            order = Order.objects.select_for_update().get(pk=order.pk)
        status = str(refund.get("status") or Refund.Status.PENDING)
        mirror, created_now = Refund.objects.select_for_update().get_or_create(
            stripe_id=str(refund["id"]),
            defaults={
                "order": order,
                "payment_intent_id": id_of(refund.get("payment_intent")),
                "charge_id": id_of(refund.get("charge")),
                "amount": int(refund.get("amount") or 0),
                # Stripe's currency codes are lowercase, as our orders' are (a constraint checks).
                "currency": str(refund.get("currency") or (order.currency if order else "usd")),
                "status": status,
                "failure_reason": str(refund.get("failure_reason") or "")[:64],
                "livemode": bool(refund.get("livemode")),
                "stripe_created": time_of(refund.get("created")),
                "synced_at": timezone.now(),
            },
        )
        held = mirror.status
        rank = REFUND_STATUS_RANK.get(status, -1)  # pragma: no mutate: -1 or -2, under every rank
        if not created_now and rank > REFUND_STATUS_RANK.get(held, -1):
            mirror.status = status
            mirror.failure_reason = str(refund.get("failure_reason") or "")[:64]
            mirror.synced_at = timezone.now()
            if order is not None and mirror.order_id is None:
                mirror.order = order
            mirror.save(update_fields=MOVED_FIELDS)  # pragma: no mutate: a locked row
        _refund_request_follow(mirror=mirror, refund=refund)
        if order is None:
            return mirror, None
        if held == Refund.Status.SUCCEEDED and mirror.status == Refund.Status.FAILED:
            # Failed after succeeding: the money is back in the balance, not with the customer.
            return mirror, order_apply_refund_failed(
                order=order,
                amount=mirror.amount,
                locked=True,  # pragma: no mutate: re-locking a locked row reads the same row
            )
        if mirror.status != Refund.Status.SUCCEEDED:
            return mirror, None
        succeeded = order.refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount"))
        total = int(succeeded["total"] or 0)  # pragma: no mutate: the sum includes this succeeded mirror
        return mirror, order_apply_refunded_amount(order=order, amount_refunded=total)


def _refund_request_follow(*, mirror: Refund, refund: JsonDict) -> None:
    """Move the staff request behind this refund forward to the mirror's status. The request is
    found by the `re_` id, or (before Stripe's answer was recorded: a crash, or the webhook came
    first) by `metadata.refund_request`. Lock order: order, refund, then the request."""
    requests = RefundRequest.objects.select_for_update()
    request = requests.filter(stripe_refund_id=mirror.stripe_id).first()
    metadata = refund.get("metadata") or {}
    reference = str(metadata.get("refund_request") or "")  # pragma: no mutate: "XXXX" is no pk either
    if request is None and reference.isdigit():
        request = requests.filter(pk=int(reference), stripe_refund_id=None).first()
        if request is not None and mirror.order_id is not None and request.order_id != mirror.order_id:
            request = None
    if request is None:
        return
    fields = []
    if request.stripe_refund_id is None:
        request.stripe_refund_id = mirror.stripe_id
        fields.append("stripe_refund_id")
    status = REFUND_STATUS_TO_REQUEST.get(mirror.status, RefundRequest.Status.PENDING)
    rank, held = REFUND_REQUEST_STATUS_RANK[status], REFUND_REQUEST_STATUS_RANK[request.status]
    if rank > held:  # pragma: no mutate: one rank is one status, and a request at it has its reason
        request.status = status
        request.failure_reason = mirror.failure_reason
        fields += ["status", "failure_reason"]
    if fields:
        fields.append("updated_at")
        request.save(update_fields=fields)  # pragma: no mutate: a locked, fresh row: all columns match
