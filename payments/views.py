"""The payments' pages: Stripe's webhook endpoint, and the customer's checkout, payment and order
pages (their URLs are in the shop's `orders:` namespace, config/urls.py).

Views are thin: read the request, call one service, render.

- The webhook checks, stores once and answers: nothing else happens in the request (no Stripe
  call, no handler), so Stripe gets its 2xx in milliseconds.
- Order pages are found by the order's unguessable public token, never by its number. Nothing a
  browser sends (a query string, a redirect, a form field) is taken as proof of payment: the
  return pages ask Stripe through `payments.services.checkout`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.security import client_ip
from orders.cart import Cart
from orders.forms import CheckoutForm, new_form_token
from orders.models import Order, OrderCheckout
from orders.selectors import order_get_by_public_token
from payments.card_testing import MESSAGE_TOO_MANY_ATTEMPTS, Attempt, payment_attempt_check_and_record
from payments.outcomes import order_outcome
from payments.services.checkout import (
    PAYABLE_PI_STATUSES,
    CheckoutUnavailable,
    CustomerDetails,
    checkout_order_place,
    checkout_session_confirm,
    checkout_session_open,
    order_payment_refresh,
    payment_element_intent,
)
from payments.services.events import WebhookRejected, stripe_event_receive
from payments.stripe_gateway import StripeGatewayError

logger = logging.getLogger(__name__)

# The customer's latest order in this browser session: reused (and revised) until it is paid.
OPEN_ORDER_KEY = "open_order"
REAL_STRIPE_JS_URL = "https://js.stripe.com/v3/"
MESSAGE_STRIPE_DOWN = (
    "We couldn't reach our payment provider just now. Nothing was charged. Please try again in a moment."
)
MESSAGE_EMPTY_CART = "Your cart is empty."
MESSAGE_FORM_EXPIRED = "This checkout form has expired. Please check your details and submit it again."
FORM_TOKENS_KEY = "checkout_form_tokens"
MAX_FORM_TOKENS = 10


# ---------------------------------------------------------------------------- the webhook

REASON_STORE_FAILED = "could not store the event; retry"


@csrf_exempt  # Stripe signs the body instead: https://docs.stripe.com/webhooks
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    # Read at most one byte past the limit from the stream, whatever Content-Length claims; the
    # service refuses anything longer than the limit.
    payload = request.read(settings.STRIPE_WEBHOOK_MAX_BYTES + 1)
    try:
        stripe_event_receive(
            payload=payload,
            sig_header=request.headers.get("Stripe-Signature"),
            content_type=request.content_type or "",
        )
    except WebhookRejected as rejection:
        logger.info("stripe webhook refused: %s", rejection.reason)
        return HttpResponse(rejection.reason, status=rejection.status, content_type="text/plain")
    except DatabaseError as error:
        # Not stored, so not acknowledged: Stripe will deliver it again (invariant 4).
        logger.error("stripe webhook not stored: %s", type(error).__name__)
        return HttpResponse(REASON_STORE_FAILED, status=503, content_type="text/plain")
    return HttpResponse(status=200)


def _order_or_404(token: str) -> Order:
    order = order_get_by_public_token(token=token)
    if order is None:
        raise Http404("No such order")
    return order


def _method(order: Order) -> str:
    checkout = OrderCheckout.objects.filter(order=order).only("method").first()
    return checkout.method if checkout else OrderCheckout.Method.PAYMENT_ELEMENT


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


def _payment_attempt_allowed(request: HttpRequest, email: str) -> bool:
    """Count one payment attempt for this session, address and email; False at the limit
    (payments/card_testing.py)."""
    if request.session.session_key is None:
        request.session.save()
    # The address as login throttling sees it (behind our proxies when TRUSTED_PROXY_COUNT says so).
    attempt = Attempt(session_key=request.session.session_key, ip=client_ip(request) or None, email=email)
    return payment_attempt_check_and_record(attempt=attempt)


def _too_many_attempts(request: HttpRequest, order: Order | None) -> HttpResponse:
    return render(
        request,
        "shop/payment_unavailable.html",
        {"order": order, "message": MESSAGE_TOO_MANY_ATTEMPTS},
        status=429,
    )


def _payment_unavailable(request: HttpRequest, order: Order | None) -> HttpResponse:
    return render(
        request,
        "shop/payment_unavailable.html",
        {"order": order, "message": MESSAGE_STRIPE_DOWN},
        status=503,
    )


# ---------------------------------------------------------------------------- checkout


def _issue_form_token(request: HttpRequest) -> str:
    """A token for one rendering of the checkout form, remembered in this browser's session: a
    double submit carries it twice and finds the first order; a token from another session is
    refused (it could otherwise point at someone else's order)."""
    token = new_form_token()
    issued = [*request.session.get(FORM_TOKENS_KEY, [])[-(MAX_FORM_TOKENS - 1) :], token]
    request.session[FORM_TOKENS_KEY] = issued
    return token


def _checkout_initial(request: HttpRequest) -> dict[str, object]:
    """Prefill from the open order, so a customer who comes back to change the cart keeps their
    details (and so their PaymentIntent is updated, not replaced)."""
    initial: dict[str, object] = {"form_token": _issue_form_token(request)}
    order = order_get_by_public_token(token=request.session.get(OPEN_ORDER_KEY, ""))
    if order is None:
        return initial
    billing, shipping = order.billing_address or {}, order.shipping_address or {}
    initial.update(
        email=order.email,
        name=order.name,
        method=_method(order),
        shipping_same=billing == shipping,
        **{f"billing_{key}": value for key, value in billing.items()},
        **({} if billing == shipping else {f"shipping_{key}": value for key, value in shipping.items()}),
    )
    return initial


@never_cache
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    if cart.is_empty:
        messages.info(request, MESSAGE_EMPTY_CART)
        return redirect("orders:cart")
    if request.method != "POST":
        form = CheckoutForm(initial=_checkout_initial(request))
        return render(request, "shop/checkout.html", {"form": form, "cart": cart})
    form = CheckoutForm(request.POST)
    if form.is_valid() and form.cleaned_data["form_token"] not in request.session.get(FORM_TOKENS_KEY, []):
        form.add_error(None, MESSAGE_FORM_EXPIRED)
    if not form.is_valid():
        post = request.POST.copy()
        post["form_token"] = _issue_form_token(request)
        form.data = post
        return render(request, "shop/checkout.html", {"form": form, "cart": cart}, status=400)
    data = form.cleaned_data
    if not _payment_attempt_allowed(request, data["email"]):
        return _too_many_attempts(request, None)
    order = checkout_order_place(
        form_token=data["form_token"],
        method=data["method"],
        lines=cart.lines(),
        details=CustomerDetails(
            email=data["email"],
            name=data["name"],
            billing_address=form.billing_address(),
            shipping_address=form.shipping_address(),
        ),
        customer_ip=_client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
        open_order=order_get_by_public_token(token=request.session.get(OPEN_ORDER_KEY, "")),
    )
    request.session[OPEN_ORDER_KEY] = order.public_token
    if _method(order) == OrderCheckout.Method.CHECKOUT:
        return redirect("orders:order_checkout", token=order.public_token)
    try:
        payment_element_intent(order=order)
    except StripeGatewayError:
        return _payment_unavailable(request, order)
    return redirect("orders:order_pay", token=order.public_token)


@never_cache
@require_GET
def order_pay(request: HttpRequest, token: str) -> HttpResponse:
    """The Payment Element page: the only page with JavaScript. It gets the publishable key and
    the PaymentIntent's client secret, nothing else from Stripe."""
    order = _order_or_404(token)
    if _method(order) == OrderCheckout.Method.CHECKOUT:
        return redirect("orders:order_checkout", token=token)
    if not order_outcome(order=order).can_pay:
        return redirect("orders:order_detail", token=token)
    if not _payment_attempt_allowed(request, order.email):
        return _too_many_attempts(request, order)
    try:
        intent = payment_element_intent(order=order)
    except StripeGatewayError:
        return _payment_unavailable(request, order)
    order.refresh_from_db()
    if intent.get("status") not in PAYABLE_PI_STATUSES:
        return redirect("orders:order_detail", token=token)
    outcome = order_outcome(order=order)
    return_url = settings.SITE_URL.rstrip("/") + reverse("orders:order_detail", args=[token])
    config = {
        "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
        "clientSecret": intent["client_secret"],
        "returnUrl": return_url,
        "requiresAction": intent.get("status") == "requires_action",
    }
    return render(
        request,
        "shop/pay.html",
        {
            "order": order,
            "outcome": outcome,
            "show_previous_failure": outcome.kind in ("declined", "authentication_failed"),
            "stripe_config": config,
            "stripe_js_url": settings.STRIPE_JS_URL or REAL_STRIPE_JS_URL,
        },
    )


@never_cache
@require_GET
def order_checkout(request: HttpRequest, token: str) -> HttpResponse:
    """Send the customer to the order's Stripe Checkout page (creating the session once)."""
    order = _order_or_404(token)
    if _method(order) == OrderCheckout.Method.PAYMENT_ELEMENT:
        return redirect("orders:order_pay", token=token)
    if not order_outcome(order=order).can_pay:
        return redirect("orders:order_detail", token=token)
    if not _payment_attempt_allowed(request, order.email):
        return _too_many_attempts(request, order)
    try:
        url = checkout_session_open(order=order)
    except CheckoutUnavailable:
        return redirect("orders:order_detail", token=token)
    except StripeGatewayError:
        return _payment_unavailable(request, order)
    return HttpResponseRedirect(url, status=303)


@never_cache
@require_GET
def checkout_success(request: HttpRequest, token: str) -> HttpResponse:
    """Stripe Checkout's success_url. The session id in the query is only a hint: the server
    fetches the session and acts only if it is this order's and paid."""
    order = order_get_by_public_token(token=token)
    confirmed = False
    if order is not None:
        try:
            confirmed = checkout_session_confirm(order=order, session_id=request.GET.get("session_id", ""))
        except StripeGatewayError:
            confirmed = False
    if confirmed and order is not None:
        return redirect("orders:order_detail", token=token)
    return render(request, "shop/checkout_unconfirmed.html", {"order": order}, status=200)


@never_cache
@require_GET
def checkout_cancel(request: HttpRequest, token: str) -> HttpResponse:
    """Stripe Checkout's cancel_url: nothing changes; the customer may go back or leave."""
    order = _order_or_404(token)
    return render(
        request,
        "shop/checkout_canceled.html",
        {"order": order, "outcome": order_outcome(order=order)},
    )


# ---------------------------------------------------------------------------- the order page


@never_cache
@require_GET
def order_detail(request: HttpRequest, token: str) -> HttpResponse:
    """The order page and the Payment Element's return_url: the items, the amount and the state,
    refreshed from Stripe (rate-limited) while it is not final. Query parameters Stripe.js adds
    (`payment_intent`, `redirect_status`) are ignored."""
    order = _order_or_404(token)
    order = order_payment_refresh(order=order)
    outcome = order_outcome(order=order)
    if outcome.kind == "paid" and request.session.get(OPEN_ORDER_KEY) == token:
        Cart(request.session).clear()
        request.session.pop(OPEN_ORDER_KEY, None)
    method = _method(order)
    retry_url = reverse(
        "orders:order_checkout" if method == OrderCheckout.Method.CHECKOUT else "orders:order_pay",
        args=[token],
    )
    return render(
        request,
        "shop/order_detail.html",
        {
            "order": order,
            "items": order.items.all(),
            "outcome": outcome,
            "retry_url": retry_url,
            "status_url": reverse("orders:order_status", args=[token]),
        },
    )
