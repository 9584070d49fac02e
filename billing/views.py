"""The subscriber's pages: plans, subscribe, pay (Payment Element), the account page.

The account page is found by the subscriber's unguessable token, never by a number, and asks
Stripe for the subscription's state on every visit (`billing_refresh`): nothing the browser sends
(a query string after the Payment Element's redirect) is taken as proof of payment.
"""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from billing.models import Plan, Subscriber
from billing.selectors import (
    plan_list_active,
    subscriber_get_by_public_token,
    subscriber_subscription,
    subscription_has_access,
    subscription_invoices,
    subscription_open_invoice,
)
from billing.services import (
    BillingUnavailable,
    billing_refresh,
    invoice_payment_step,
    subscriber_card_apply,
    subscriber_create,
    subscriber_setup_intent,
    subscriber_subscribe,
    subscription_cancel_at_period_end,
)
from orders.forms import new_form_token
from payments.stripe_gateway import StripeGatewayError

logger = logging.getLogger(__name__)

REAL_STRIPE_JS_URL = "https://js.stripe.com/v3/"
MESSAGE_STRIPE_DOWN = (
    "We couldn't reach our payment provider just now. Nothing was charged. Please try again."
)
MESSAGE_CANCELED = (
    "Your subscription will end at the end of the current period. Nothing more will be charged."
)


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254)
    form_token = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)


def _subscriber_or_404(token: str) -> Subscriber:
    subscriber = subscriber_get_by_public_token(token=token)
    if subscriber is None:
        raise Http404("No such account")
    return subscriber


def _account_url(subscriber: Subscriber) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("billing:account", args=[subscriber.public_token])


def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/plans.html", {"plans": plan_list_active()})


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    plan = get_object_or_404(Plan, slug=slug, active=True)
    form = SubscribeForm(request.POST or None, initial={"form_token": new_form_token()})
    if request.method == "POST" and form.is_valid():
        subscriber = subscriber_create(
            plan=plan, email=form.cleaned_data["email"], form_token=form.cleaned_data["form_token"] or None
        )
        try:
            subscriber_subscribe(subscriber=subscriber)
        except (BillingUnavailable, StripeGatewayError):
            return render(
                request,
                "billing/subscribe.html",
                {"plan": plan, "form": form, "error": MESSAGE_STRIPE_DOWN},
                status=503,
            )
        return redirect("billing:account_pay", token=subscriber.public_token)
    return render(request, "billing/subscribe.html", {"plan": plan, "form": form})


@never_cache
def account(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber_or_404(token)
    stale = False
    if subscriber.stripe_subscription_id:
        try:
            billing_refresh(subscription_id=subscriber.stripe_subscription_id)
        except StripeGatewayError:
            stale = True  # show what the mirrors say; the events and the re-sync job catch up
    subscription = subscriber_subscription(subscriber=subscriber)
    invoices = list(subscription_invoices(subscription=subscription)) if subscription else []
    open_invoice = subscription_open_invoice(subscription=subscription) if subscription else None
    return render(
        request,
        "billing/account.html",
        {
            "subscriber": subscriber,
            "subscription": subscription,
            "has_access": subscription_has_access(subscription=subscription),
            "invoices": invoices,
            "open_invoice": open_invoice,
            "stale": stale,
        },
    )


@never_cache
def account_pay(request: HttpRequest, token: str) -> HttpResponse:
    """The Payment Element for the open invoice: the first one, a failed renewal (a new card), or
    a renewal that waits for 3-D Secure (only the bank's check is left)."""
    subscriber = _subscriber_or_404(token)
    try:
        if subscriber.stripe_subscription_id:
            billing_refresh(subscription_id=subscriber.stripe_subscription_id)
        subscription = subscriber_subscription(subscriber=subscriber)
        invoice = subscription_open_invoice(subscription=subscription) if subscription else None
        step = invoice_payment_step(invoice=invoice) if invoice else None
    except StripeGatewayError:
        return render(request, "billing/account.html", {"subscriber": subscriber, "stale": True}, status=503)
    if step is None:
        return redirect("billing:account", token=token)
    config = {
        "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
        "clientSecret": step.client_secret,
        "returnUrl": _account_url(subscriber),
        "requiresAction": step.requires_action,
    }
    return render(
        request,
        "billing/pay.html",
        {
            "subscriber": subscriber,
            "invoice": step.invoice,
            "stripe_config": config,
            "stripe_js_url": settings.STRIPE_JS_URL or REAL_STRIPE_JS_URL,
        },
    )


@require_POST
def account_cancel(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = _subscriber_or_404(token)
    subscription = subscriber_subscription(subscriber=subscriber)
    if subscription is None:
        raise Http404("No subscription")
    try:
        subscription_cancel_at_period_end(subscription=subscription)
    except StripeGatewayError:
        return render(request, "billing/account.html", {"subscriber": subscriber, "stale": True}, status=503)
    return redirect("billing:account", token=token)


@never_cache
def account_card(request: HttpRequest, token: str) -> HttpResponse:
    """A new card for the renewals: the Payment Element on a SetupIntent (3-D Secure included)."""
    subscriber = _subscriber_or_404(token)
    if not subscriber.stripe_customer_id:
        return redirect("billing:account", token=token)
    try:
        seti = subscriber_setup_intent(subscriber=subscriber)
    except StripeGatewayError:
        return render(request, "billing/account.html", {"subscriber": subscriber, "stale": True}, status=503)
    config = {
        "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
        "clientSecret": seti["client_secret"],
        "returnUrl": settings.SITE_URL.rstrip("/") + reverse("billing:account_card_done", args=[token]),
    }
    return render(
        request,
        "billing/card.html",
        {
            "subscriber": subscriber,
            "stripe_config": config,
            "stripe_js_url": settings.STRIPE_JS_URL or REAL_STRIPE_JS_URL,
        },
    )


@never_cache
def account_card_done(request: HttpRequest, token: str) -> HttpResponse:
    """Back from confirmSetup: the query string proves nothing, so ask Stripe about our SetupIntent."""
    subscriber = _subscriber_or_404(token)
    try:
        subscriber_card_apply(subscriber=subscriber)
    except StripeGatewayError:
        logger.warning("card change of subscriber %s not confirmed yet", subscriber.pk)
    return redirect("billing:account", token=token)
