"""Refunds that staff ask for, from the admin or the finance API.

`refund_request_create` validates under the order's row lock (so two requests at once cannot
both take the last of the money), commits a RefundRequest with its Stripe idempotency key, and
only then calls Stripe, outside any transaction. A retry of the same request (the same admin
form, the same API `Idempotency-Key`) finds that row and calls Stripe again with the same key,
so Stripe answers the refund it already made instead of making a second one (invariant 2).
What Stripe answers goes through the Refund mirror's one sync service, as a webhook would; the
refund.* events then move the request on (pending → succeeded, or failed)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, Sum

from config.money import format_money
from core.models import ApiIdempotencyKey
from disputes.models import Dispute
from orders.models import Order
from payments import stripe_gateway
from payments.models import Charge, Refund, RefundRequest
from payments.services.objects import stripe_object_apply
from payments.services.staff import staff_action_record
from payments.stripe_gateway import RateLimited, StripeGatewayError, StripeUnavailable

REFUND_REQUEST_KEY = "refund-request:{pk}:v1"
ACTION = "refund"

# Shown to staff in the admin and as the API's `error`; tests compare them.
ERROR_NOT_PAID = "Order {number} is not paid, so there is nothing to refund."
ERROR_NOTHING_LEFT = "Order {number} is already fully refunded."
ERROR_OVER_REST = "Order {number} has {rest} left to refund; ask for at most that."
ERROR_AMOUNT = "A refund must be more than zero."
ERROR_REASON = "Give a reason: requested_by_customer, duplicate or fraudulent."
ERROR_DISPUTED = (
    "Order {number} has a disputed charge and Stripe will not refund it while the dispute is open "
    "or lost; answer the dispute instead."
)
ERROR_STRIPE_REFUSED = "Stripe refused the refund of order {number}: {code}."
ERROR_STRIPE_UNKNOWN = (
    "Stripe did not answer for refund request #{pk} of order {number}; it is kept and a retry "
    "sends the same request (it cannot refund twice)."
)

REFUNDABLE_STATUSES = (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.PARTIALLY_REFUNDED)
# Dispute statuses in which Stripe refuses a refund (`charge_disputed`); an inquiry
# (warning_*) can still be refunded, and a won dispute leaves the charge refundable.
BLOCKING_DISPUTE_STATUSES = (Dispute.Status.NEEDS_RESPONSE, Dispute.Status.UNDER_REVIEW, Dispute.Status.LOST)
LIVE_REFUND_STATUSES = (Refund.Status.PENDING, Refund.Status.REQUIRES_ACTION, Refund.Status.SUCCEEDED)


class RefundRefused(Exception):
    """The refund was not made; `str()` says why, to staff. Nothing was refunded."""


class RefundOutcomeUnknown(Exception):
    """Stripe did not answer: the request is kept (status `requested`) and a retry of it sends the
    same idempotency key."""

    def __init__(self, message: str, *, request: RefundRequest) -> None:
        super().__init__(message)
        self.request = request


def refund_request_rest(*, order: Order) -> int:
    """What can still be refunded: the total less every refund asked for and not failed (ours,
    and any made elsewhere, e.g. in the Dashboard), and never more than Stripe's own count."""
    requests = order.refund_requests.exclude(status=RefundRequest.Status.FAILED)
    requested = int(requests.aggregate(total=Sum("amount"))["total"] or 0)
    linked = requests.exclude(stripe_refund_id=None).values("stripe_refund_id")
    elsewhere = (
        Refund.objects.filter(order=order, status__in=LIVE_REFUND_STATUSES)
        .exclude(stripe_id__in=linked)
        .aggregate(total=Sum("amount"))["total"]
    )
    committed = max(requested + int(elsewhere or 0), order.amount_refunded)
    return max(0, order.amount - committed)


def refund_request_blocked_by_dispute(*, order: Order) -> bool:
    if order.status == Order.Status.DISPUTED:
        return True
    # The dispute may not be linked to the order yet: its charge is then ours by our mirror, or
    # by the charge the order recorded as paid.
    ours = Q(order=order) | Q(charge_id__in=Charge.objects.filter(order=order).values("stripe_id"))
    if order.charge_id:
        ours |= Q(charge_id=order.charge_id)
    return Dispute.objects.filter(ours, status__in=BLOCKING_DISPUTE_STATUSES).exists()


def refund_request_check(*, order: Order, amount: int | None, reason: str) -> int:
    """The amount a refund of `amount` (None: the rest) would be, or RefundRefused. The admin's
    confirmation step shows it; `refund_request_create` asks again under the order's lock."""
    if reason not in RefundRequest.Reason.values:
        raise RefundRefused(ERROR_REASON)
    if refund_request_blocked_by_dispute(order=order):
        raise RefundRefused(ERROR_DISPUTED.format(number=order.number))
    if order.status == Order.Status.REFUNDED:
        raise RefundRefused(ERROR_NOTHING_LEFT.format(number=order.number))
    if order.status not in REFUNDABLE_STATUSES or not order.payment_intent_id:
        raise RefundRefused(ERROR_NOT_PAID.format(number=order.number))
    rest = refund_request_rest(order=order)
    if rest <= 0:
        raise RefundRefused(ERROR_NOTHING_LEFT.format(number=order.number))
    if amount is None:
        return rest
    if amount <= 0:
        raise RefundRefused(ERROR_AMOUNT)
    if amount > rest:
        raise RefundRefused(
            ERROR_OVER_REST.format(number=order.number, rest=format_money(rest, order.currency))
        )
    return amount


def _existing(*, api_key: ApiIdempotencyKey | None, form_token: str | None) -> RefundRequest | None:
    requests = RefundRequest.objects.select_related("order")  # pragma: no mutate: it only saves a query
    if api_key is not None:
        return requests.filter(api_key=api_key).first()
    if form_token:
        return requests.filter(form_token=form_token).first()
    return None


def refund_request_create(
    *,
    order: Order,
    amount: int | None,
    reason: str,
    requested_by: Any,
    api_key: ApiIdempotencyKey | None = None,
    form_token: str | None = None,
) -> RefundRequest:
    """Refund `amount` (None: all that is left) of a paid order, once.

    Raises RefundRefused (nothing refunded, nothing stored but the audit row) or
    RefundOutcomeUnknown (kept; retry). The same `api_key` or `form_token` again returns the
    same request, calling Stripe again only if it never answered."""
    request = _existing(api_key=api_key, form_token=form_token)  # pragma: no mutate: found again under lock
    if request is None:
        try:
            request = _request_store(
                order=order,
                amount=amount,
                reason=reason,
                requested_by=requested_by,
                api_key=api_key,
                form_token=form_token,
            )
        except RefundRefused as refused:
            staff_action_record(
                actor=requested_by,
                action=ACTION,
                target=order.number,
                reason=reason,
                outcome=f"refused: {refused}",
            )
            raise
    if request.status != RefundRequest.Status.REQUESTED or request.stripe_refund_id:
        return request
    return _request_send(request=request, actor=requested_by)


def _request_store(
    *,
    order: Order,
    amount: int | None,
    reason: str,
    requested_by: Any,
    api_key: ApiIdempotencyKey | None,
    form_token: str | None,
) -> RefundRequest:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        # A double submit waited for the first one's lock: it finds its row now.
        existing = _existing(api_key=api_key, form_token=form_token)
        if existing is not None:
            return existing
        value = refund_request_check(order=order, amount=amount, reason=reason)
        request = RefundRequest.objects.create(
            order=order,
            amount=value,
            currency=order.currency,
            reason=reason,
            requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
            api_key=api_key,
            form_token=form_token or None,
        )
        request.idempotency_key = REFUND_REQUEST_KEY.format(pk=request.pk)
        request.save(update_fields=["idempotency_key", "updated_at"])  # pragma: no mutate: a row just made
    return request


def _request_send(*, request: RefundRequest, actor: Any) -> RefundRequest:
    order = request.order
    money = format_money(request.amount, request.currency)
    params = {
        "payment_intent": order.payment_intent_id,
        "amount": request.amount,
        "reason": request.reason,
        "metadata": {
            "refund_request": str(request.pk),
            "order_id": str(order.pk),
            "order_number": order.number,
        },
    }
    ids = {"order": order.number, "refund_request": request.pk}
    try:
        refund = stripe_gateway.refund_create(params=params, idempotency_key=request.idempotency_key, ids=ids)
    except (StripeUnavailable, RateLimited) as error:
        message = ERROR_STRIPE_UNKNOWN.format(pk=request.pk, number=order.number)
        staff_action_record(
            actor=actor,
            action=ACTION,
            target=order.number,
            reason=request.reason,
            outcome=f"unknown: {error}",
        )
        raise RefundOutcomeUnknown(message, request=request) from error
    except StripeGatewayError as error:
        code = error.code or "refused"
        with transaction.atomic():
            RefundRequest.objects.filter(pk=request.pk).update(
                status=RefundRequest.Status.FAILED,
                failure_reason=code[:255],  # pragma: no mutate: Stripe's error codes are far under 255
            )
            staff_action_record(
                actor=actor,
                action=ACTION,
                target=order.number,
                reason=request.reason,
                outcome=f"refused by Stripe: {code}, {money}",
            )
        if code == "charge_disputed":
            raise RefundRefused(ERROR_DISPUTED.format(number=order.number)) from error
        raise RefundRefused(ERROR_STRIPE_REFUSED.format(number=order.number, code=code)) from error
    with transaction.atomic():
        # The server fetched this from Stripe itself: the same sync as the refund.* webhook.
        stripe_object_apply(
            obj=refund,
            seen_at=None,
            source=request.idempotency_key,  # pragma: no mutate: a refund's sync records no source
        )
        request.refresh_from_db()
        staff_action_record(
            actor=actor,
            action=ACTION,
            target=order.number,
            reason=request.reason,
            outcome=f"{refund.get('id')} {refund.get('status')}, {money}",
        )
    return request
