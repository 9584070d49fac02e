"""Find any record by the id staff were given: one search for the admin box and the staff API.

A query is routed by its prefix, longest first (`pyr_` before `py_`, as Stripe's own sync engine
does), to the finder registered for it; an order number (`ORD-…`) and an email address have
their own routes. Every finder looks up indexed columns only (unique Stripe ids, db_index'd
foreign ids, the order's primary key, `UPPER(email)`), so a lookup stays fast at a million
orders (bench/search_bench.py).

Adding a kind is one registration, as the payouts have:

    record_model_register(prefixes=("po_",), kind="payout", model="reconciliation.Payout")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import Model
from django.urls import NoReverseMatch, reverse

from orders.models import NUMBER_PREFIX, Order, order_pk_from_number
from orders.selectors import order_find_for_stripe_object
from payments.models import Charge, PaymentIntent, Refund, RefundRequest, StripeEvent

MAX_RESULTS = 50


@dataclass(frozen=True)
class SearchResult:
    """One record found: `kind` from the finance API's vocabulary, `id` the value searched for
    (the order number for an order), `order` the order number it belongs to or None, and
    `admin_url` its page in the admin."""

    kind: str
    id: str
    order: str | None
    admin_url: str


Finder = Callable[[str], list[SearchResult]]


@dataclass(frozen=True)
class _Route:
    prefix: str
    kind: str
    find: Finder


_ROUTES: dict[str, _Route] = {}


def record_kind_register(*, prefixes: tuple[str, ...], kind: str, find: Finder) -> None:
    """Route queries starting with any of `prefixes` to `find` (a later registration of the same
    prefix replaces the earlier one)."""
    for prefix in prefixes:
        _ROUTES[prefix] = _Route(prefix=prefix, kind=kind, find=find)


def record_prefixes() -> list[str]:
    """The registered prefixes, longest first: the order they are tried in."""
    return sorted(_ROUTES, key=lambda prefix: (-len(prefix), prefix))


def record_find(*, query: str) -> list[SearchResult]:
    """Every record `query` names (an empty list when none does)."""
    value = query.strip()
    if not value:
        return []
    if value.upper().startswith(NUMBER_PREFIX):
        return _find_order_number(value)
    for prefix in record_prefixes():
        if value.startswith(prefix):
            route = _ROUTES[prefix]
            return route.find(value)[:MAX_RESULTS]
    if "@" in value:
        return _find_email(value)
    return []


# ---------------------------------------------------------------------------- helpers


def admin_change_url(obj: Model) -> str | None:
    """The admin page of `obj`, if its model has one."""
    meta = obj._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


def _order_url(order: Order | None) -> str:
    if order is None:
        return reverse("admin:index")
    return reverse("admin:orders_order_change", args=[order.pk])


def _result(kind: str, value: str, order: Order | None, obj: Model | None = None) -> SearchResult:
    """A result that opens `obj`'s own page when it has one, else its order's."""
    url = (admin_change_url(obj) if obj is not None else None) or _order_url(order)
    return SearchResult(kind=kind, id=value, order=order.number if order else None, admin_url=url)


def _orders_where(kind: str, value: str, **lookup: Any) -> list[SearchResult]:
    orders = Order.objects.filter(**lookup).order_by("-pk")[:MAX_RESULTS]
    return [_result(kind, value, order) for order in orders]


def _find_order_number(value: str) -> list[SearchResult]:
    pk = order_pk_from_number(value)
    order = Order.objects.filter(pk=pk).first() if pk is not None else None
    return [_result("order", order.number, order)] if order else []


def _find_email(value: str) -> list[SearchResult]:
    orders = Order.objects.filter(email__iexact=value).order_by("-pk")[:MAX_RESULTS]
    return [_result("order", order.number, order) for order in orders]


def record_model_register(
    *,
    prefixes: tuple[str, ...],
    kind: str,
    model: str,
    order_of: Callable[[Any], Order | None] | None = None,
) -> None:
    """Route `prefixes` to a mirror model (`"app_label.Model"`) with a unique `stripe_id`: the
    result opens the mirror's own admin page (else its order's), and its order is
    `order_of(mirror)`, by default the mirror's `order` foreign key if it has one."""

    def find(value: str) -> list[SearchResult]:
        mirror = apps.get_model(model)._default_manager.filter(stripe_id=value).first()
        if mirror is None:
            return []
        order = order_of(mirror) if order_of else getattr(mirror, "order", None)
        return [_result(kind, value, order, mirror)]

    record_kind_register(prefixes=prefixes, kind=kind, find=find)


# ---------------------------------------------------------------------------- the kinds we have


def _find_payment_intent(value: str) -> list[SearchResult]:
    order = Order.objects.filter(payment_intent_id=value).first()
    if order is None:
        mirror = PaymentIntent.objects.filter(stripe_id=value).select_related("order").first()
        if mirror is None:
            return []
        order = mirror.order
        if order is None:
            return [_result("payment_intent", value, None, mirror)]
    return [_result("payment_intent", value, order)]


def _find_charge(value: str) -> list[SearchResult]:
    mirror = Charge.objects.filter(stripe_id=value).select_related("order").first()
    if mirror is not None and mirror.order is not None:
        return [_result("charge", value, mirror.order)]
    results = _orders_where("charge", value, charge_id=value)
    if not results and mirror is not None:
        return [_result("charge", value, None, mirror)]
    return results


def _find_refund(value: str) -> list[SearchResult]:
    mirror = Refund.objects.filter(stripe_id=value).select_related("order").first()
    if mirror is not None:
        return [_result("refund", value, mirror.order, mirror)]
    request = RefundRequest.objects.filter(stripe_refund_id=value).select_related("order").first()
    return [_result("refund", value, request.order)] if request else []


def _find_payment_method(value: str) -> list[SearchResult]:
    """Every order a card (`pm_…`) was tried on, newest first, from the charge attempts."""
    charges = (
        Charge.objects.filter(payment_method_id=value, order__isnull=False)
        .select_related("order")
        .order_by("-order_id")
    )
    orders = list({charge.order_id: charge.order for charge in charges[: MAX_RESULTS * 3]}.values())
    return [_result("payment_method", value, order) for order in orders[:MAX_RESULTS] if order is not None]


def _find_customer(value: str) -> list[SearchResult]:
    return _orders_where("customer", value, stripe_customer_id=value)


def _find_event(value: str) -> list[SearchResult]:
    row = StripeEvent.objects.filter(stripe_id=value).first()
    if row is None:
        return []
    obj = (row.payload.get("data") or {}).get("object") or {}
    order = order_find_for_stripe_object(obj=obj) if isinstance(obj, dict) else None
    return [_result("event", value, order, row)]


def _dispute_order(dispute: Any) -> Order | None:
    if dispute.payment_intent_id:
        order = Order.objects.filter(payment_intent_id=dispute.payment_intent_id).first()
        if order is not None:
            return order
    charge = Charge.objects.filter(stripe_id=dispute.charge_id).select_related("order").first()
    if charge is not None and charge.order is not None:
        return charge.order
    return Order.objects.filter(charge_id=dispute.charge_id).first() if dispute.charge_id else None


record_kind_register(prefixes=("pi_",), kind="payment_intent", find=_find_payment_intent)
record_kind_register(prefixes=("ch_", "py_"), kind="charge", find=_find_charge)
record_kind_register(prefixes=("re_", "pyr_"), kind="refund", find=_find_refund)
record_kind_register(
    prefixes=("cs_",),
    kind="checkout_session",
    find=lambda value: _orders_where("checkout_session", value, checkout_session_id=value),
)
record_kind_register(prefixes=("cus_",), kind="customer", find=_find_customer)
record_kind_register(prefixes=("pm_",), kind="payment_method", find=_find_payment_method)
record_kind_register(prefixes=("evt_",), kind="event", find=_find_event)
record_model_register(
    prefixes=("du_", "dp_"),
    kind="dispute",
    model="disputes.Dispute",
    order_of=lambda dispute: dispute.order or _dispute_order(dispute),
)
record_model_register(prefixes=("po_",), kind="payout", model="reconciliation.Payout")
record_model_register(prefixes=("sub_",), kind="subscription", model="billing.Subscription")
record_model_register(prefixes=("in_",), kind="invoice", model="billing.Invoice")
record_model_register(
    prefixes=("txn_",), kind="balance_transaction", model="reconciliation.BalanceTransaction"
)
