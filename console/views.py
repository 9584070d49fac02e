"""Admin pages of the staff console: the one search box and an order's refund page.

Both are wrapped in the admin site's own login check, and then ask the role: a page a role may
not use answers 403 whoever links to it, not only hides its button."""

from __future__ import annotations

import secrets
from decimal import InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from config.money import format_money, to_major, to_minor
from console.search import record_find
from core.roles import user_is_finance, user_is_support
from core.security import require_recent_auth
from orders.models import Order
from payments.models import Charge, RefundRequest
from payments.services.refund_requests import (
    RefundOutcomeUnknown,
    RefundRefused,
    refund_request_check,
    refund_request_create,
    refund_request_rest,
)

FRAUDULENT_WARNING = (
    "A refund marked fraudulent also tells Stripe the payment was fraud: Stripe adds the card and "
    "the email address to this account's block lists, so this customer cannot pay with them again."
)
MESSAGE_NO_MATCH = "No record matches “{query}”."
MESSAGE_EMPTY = "Type an order number, a Stripe id (pi_…, ch_…, re_…, evt_…, cus_…) or an email address."


def _search(request: HttpRequest) -> HttpResponse:
    if not user_is_support(request.user):
        raise PermissionDenied
    query = str(request.GET.get("q") or "").strip()
    results = record_find(query=query) if query else []
    if len(results) == 1:
        return HttpResponseRedirect(results[0].admin_url)
    context = {
        **admin.site.each_context(request),
        "title": f"Search: {query}" if query else "Search",
        "query": query,
        "results": results,
        "message": (MESSAGE_NO_MATCH.format(query=query) if query else MESSAGE_EMPTY) if not results else "",
    }
    return render(request, "admin/console/search.html", context)


admin_search = admin.site.admin_view(_search)


class RefundForm(forms.Form):
    amount = forms.CharField(
        label="Amount to refund",
        max_length=32,
        help_text="In the order's currency; all that is left by default.",
    )
    reason = forms.ChoiceField(
        choices=RefundRequest.Reason.choices, widget=forms.RadioSelect, initial="requested_by_customer"
    )
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order

    def clean_amount(self) -> int:
        try:
            amount = to_minor(self.cleaned_data["amount"].strip().lstrip("£$€¥"), self.order.currency)
        except (InvalidOperation, ValueError) as error:
            example = to_major(self.order.amount, self.order.currency)
            raise forms.ValidationError(
                f"Give an amount in {self.order.currency.upper()}, like {example}."
            ) from error
        return amount


def _card(order: Order) -> str:
    charge = Charge.objects.filter(order=order, status=Charge.Status.SUCCEEDED).order_by("-pk").first()
    if charge is None or not charge.card_last4:
        return "the card they paid with"
    return f"their {charge.card_brand or 'card'} ending {charge.card_last4}"


@require_recent_auth
def _refund(request: HttpRequest, pk: int) -> HttpResponse:
    if not user_is_finance(request.user):
        raise PermissionDenied
    order = get_object_or_404(Order, pk=pk)
    order_url = reverse("admin:orders_order_change", args=[order.pk])
    rest = refund_request_rest(order=order)
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if request.method == "POST":
        form = RefundForm(request.POST, order=order)
    else:
        initial = {"amount": str(to_major(rest, order.currency)), "form_token": secrets.token_urlsafe(24)}
        form = RefundForm(initial=initial, order=order)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": f"Refund {order.number}",
        "order": order,
        "order_url": order_url,
        "form": form,
        "total": format_money(order.amount, order.currency),
        "refunded": format_money(order.amount_refunded, order.currency),
        "rest": format_money(rest, order.currency),
        "fraudulent_warning": FRAUDULENT_WARNING,
        "confirm": False,
    }
    if step in ("review", "confirm") and form.is_valid():
        amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
        try:
            if step == "review":
                refund_request_check(order=order, amount=amount, reason=reason)
            else:
                refund_request = refund_request_create(
                    order=order,
                    amount=amount,
                    reason=reason,
                    requested_by=request.user,
                    form_token=form.cleaned_data["form_token"],
                )
                money = format_money(refund_request.amount, refund_request.currency)
                messages.success(
                    request,
                    f"Refund of {money} for {order.number}: {refund_request.get_status_display().lower()}"
                    f" ({refund_request.stripe_refund_id}).",
                )
                return HttpResponseRedirect(order_url)
        except RefundRefused as refused:
            messages.error(request, str(refused))
        except RefundOutcomeUnknown as unknown:
            messages.warning(request, str(unknown))
            context["confirm"] = True
        else:
            context["confirm"] = True
        context.update(
            amount=amount,
            amount_display=format_money(amount, order.currency),
            reason=reason,
            reason_display=RefundRequest.Reason(reason).label,
            card=_card(order),
            form_token=form.cleaned_data["form_token"],
        )
    return render(request, "admin/console/refund.html", context)


admin_order_refund = admin.site.admin_view(_refund)
