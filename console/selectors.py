"""Reads for the staff console: an order with everything money-related that belongs to it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from disputes.models import Dispute
from orders.models import Order, order_pk_from_number
from payments.models import Charge, Refund, RefundRequest


@dataclass(frozen=True)
class OrderMoney:
    order: Order
    charges: list[Charge]
    refund_requests: list[RefundRequest]
    # Refunds made elsewhere (the Dashboard, another tool): no request of ours behind them.
    other_refunds: list[Refund]
    disputes: list[Dispute]


def order_get_by_number(*, number: str) -> Order | None:
    pk = order_pk_from_number(number) if number.upper().startswith(Order.number_prefix) else None
    return Order.objects.filter(pk=pk).first() if pk is not None else None


def order_money_get(*, order: Order) -> OrderMoney:
    """Every charge attempt (declined ones too), refund and dispute of an order, oldest first."""
    charges = list(
        Charge.objects.filter(Q(order=order) | Q(payment_intent__order=order)).order_by(
            "stripe_created", "pk"
        )
    )
    requests = list(order.refund_requests.order_by("pk"))
    linked = {request.stripe_refund_id for request in requests if request.stripe_refund_id}
    other_refunds = [refund for refund in order.refunds.order_by("pk") if refund.stripe_id not in linked]
    charge_ids = {charge.stripe_id for charge in charges} | ({order.charge_id} if order.charge_id else set())
    condition = Q(charge_id__in=charge_ids)
    if order.payment_intent_id:
        condition |= Q(payment_intent_id=order.payment_intent_id)
    disputes = list(Dispute.objects.filter(condition).order_by("pk"))
    return OrderMoney(
        order=order, charges=charges, refund_requests=requests, other_refunds=other_refunds, disputes=disputes
    )
