"""PaymentIntents: the card payment state machine.

requires_payment_method → requires_confirmation → confirm →
    requires_action (3DS) → authenticate → succeeded / requires_capture / back to requires_payment_method
    succeeded (capture_method automatic*) or requires_capture (manual) → capture → succeeded
    decline → requires_payment_method with last_payment_error (a failed charge is kept)
    cancel from any non-final state → canceled

Every succeeded capture and every refund gets a `txn_` balance transaction, so payouts and
disputes can later be built on the same ledger.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .. import cards
from ..errors import StripeError, invalid, missing, no_such, unexpected_state
from ..server import Request
from ..state import Emulator, render
from . import disputes, payment_methods
from .charges import capture_charge, new_charge
from .common import (
    apply_metadata,
    as_bool,
    as_dict,
    as_int,
    as_str,
    created_filter,
    currency,
    get_object,
    list_response,
    route,
    set_fields,
)
from .money import check_amount

CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
AUTH_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new "
    "PaymentMethod to attempt to fulfill this PaymentIntent again."
)


def new_payment_intent(emu: Emulator, p: dict[str, Any]) -> dict[str, Any]:
    cur = currency(p)
    amount = as_int(p, "amount", required=True)
    assert amount is not None and cur is not None
    check_amount(amount, cur)
    customer = as_str(p, "customer")
    if customer:
        from .customers import get_customer

        get_customer(emu, customer)
    capture_method = as_str(p, "capture_method") or "automatic_async"
    if capture_method not in ("automatic", "automatic_async", "manual"):
        raise invalid(f"Invalid capture_method: {capture_method}", param="capture_method")
    apm = as_dict(p, "automatic_payment_methods")
    types = p.get("payment_method_types")
    if apm and types:
        raise invalid(
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
            code="parameters_exclusive",
            param="payment_method_types",
        )
    if isinstance(types, str):
        types = [types]
    pi_id = emu.new_id("pi")
    pi: dict[str, Any] = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": (
            {
                "allow_redirects": apm.get("allow_redirects", "always"),
                "enabled": as_bool(apm, "enabled", True),
            }
            if apm
            else None
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": f"{pi_id}_secret_{emu.new_id('x', 25)[2:]}",
        "confirmation_method": as_str(p, "confirmation_method") or "automatic",
        "created": emu.now(),
        "currency": cur,
        "customer": customer,
        "customer_account": None,
        "description": as_str(p, "description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": emu.ctx.livemode,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": list(types) if types else ["card"],
        "processing": None,
        "receipt_email": as_str(p, "receipt_email"),
        "review": None,
        "setup_future_usage": as_str(p, "setup_future_usage"),
        "shipping": p.get("shipping") or None,
        "source": None,
        "statement_descriptor": as_str(p, "statement_descriptor"),
        "statement_descriptor_suffix": as_str(p, "statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": as_str(p, "transfer_group"),
    }
    apply_metadata(pi, p)
    request_three_d_secure_apply(pi, p)
    pm_ref = as_str(p, "payment_method")
    if pm_ref:
        pi["payment_method"] = payment_methods.resolve(emu, pm_ref)["id"]
        pi["status"] = "requires_confirmation"
    pmd = as_dict(p, "payment_method_data")
    if pmd:
        pi["payment_method"] = _pm_from_data(emu, pmd)["id"]
        pi["status"] = "requires_confirmation"
    emu.store.put(pi)
    emu.emit("payment_intent.created", pi)
    return pi


THREE_D_SECURE_REQUESTS = ("automatic", "any", "challenge")


def request_three_d_secure_of(p: dict[str, Any]) -> str | None:
    """`payment_method_options[card][request_three_d_secure]` from request params, if given."""
    options = p.get("payment_method_options")
    card = options.get("card") if isinstance(options, dict) else None
    value = card.get("request_three_d_secure") if isinstance(card, dict) else None
    if value is None:
        return None
    if value not in THREE_D_SECURE_REQUESTS:
        raise invalid(
            f"Invalid request_three_d_secure: must be one of {', '.join(THREE_D_SECURE_REQUESTS)}",
            param="payment_method_options[card][request_three_d_secure]",
        )
    return str(value)


def request_three_d_secure_apply(pi: dict[str, Any], p: dict[str, Any]) -> None:
    value = request_three_d_secure_of(p)
    if value is not None:
        pi["payment_method_options"]["card"]["request_three_d_secure"] = value


def _pm_from_data(emu: Emulator, pmd: dict[str, Any]) -> dict[str, Any]:
    if pmd.get("type") != "card":
        raise invalid(
            "payment_method_data[type] must be card in the emulator", param="payment_method_data[type]"
        )
    card = pmd.get("card")
    if not isinstance(card, dict):
        raise missing("payment_method_data[card]")
    return payment_methods.from_card_params(emu, card, pmd.get("billing_details"))


def confirm(
    emu: Emulator, pi: dict[str, Any], p: dict[str, Any], *, via_checkout: bool = False
) -> dict[str, Any]:
    """Confirm; returns the PI, or raises the 402 card error after recording the decline."""
    if pi.get("_checkout_session") and not via_checkout:
        raise unexpected_state(
            "This PaymentIntent's payment_method could not be updated because it belongs to a Checkout "
            "Session.",
            render(pi),
        )
    if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, "
            "requires_payment_method.",
            render(pi),
        )
    pm_ref = as_str(p, "payment_method")
    pmd = as_dict(p, "payment_method_data")
    if pm_ref:
        pm = payment_methods.resolve(emu, pm_ref)
    elif pmd:
        pm = _pm_from_data(emu, pmd)
    elif pi.get("payment_method"):
        pm = payment_methods.resolve(emu, pi["payment_method"])
    else:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You can either "
            "update "
            "the PaymentIntent with a payment method and then confirm it again, or confirm it again directly "
            "with a payment method.",
            render(pi),
        )
    if pm.get("customer") and pi.get("customer") and pm["customer"] != pi["customer"]:
        raise invalid(
            f"The provided PaymentMethod belongs to a different Customer ({pm['customer']}).",
            param="payment_method",
        )
    for name in ("receipt_email", "setup_future_usage", "capture_method"):
        if as_str(p, name):
            pi[name] = p[name]
    if "shipping" in p:
        pi["shipping"] = p["shipping"] or None
    if as_str(p, "return_url"):
        pi["_return_url"] = p["return_url"]
    request_three_d_secure_apply(pi, p)
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    off_session = as_bool(p, "off_session") or as_bool(p, "error_on_requires_action")
    return attempt(emu, pi, pm, off_session=off_session)


def attempt(emu: Emulator, pi: dict[str, Any], pm: dict[str, Any], *, off_session: bool) -> dict[str, Any]:
    card = payment_methods.card_of(pm)
    b = card.behaviour
    needs_auth = (
        b in (cards.THREE_DS, cards.THREE_DS_THEN_DECLINE)
        or (b == cards.THREE_DS_UNLESS_SETUP and not (off_session and pm.get("customer")))
        or (b == cards.THREE_DS_ON_SESSION and not off_session)
    )
    if needs_auth and off_session:
        return decline(emu, pi, pm, "authentication_required", "authentication_required")
    if needs_auth:
        return require_action(emu, pi, pm)
    # The merchant asked for 3-D Secure (`any`: whenever the card supports it, frictionless when
    # the issuer allows; `challenge`: always a challenge). Not for cards without 3-D Secure, nor
    # for payments Radar blocks before they reach the network, nor off-session.
    requested = (pi.get("payment_method_options") or {}).get("card", {}).get("request_three_d_secure")
    supports = "threeDSecureNotSupported" not in (card.pm_alias or "") and not card.blocked
    if requested in ("any", "challenge") and supports and not off_session:
        if requested == "any" and b == cards.THREE_DS_FRICTIONLESS:
            return succeed(emu, pi, pm, three_ds="frictionless")
        return require_action(emu, pi, pm)
    if b == cards.DECLINE:
        return decline(emu, pi, pm, card.code or "card_declined", card.decline_code)
    return succeed(emu, pi, pm, three_ds="frictionless" if b == cards.THREE_DS_FRICTIONLESS else None)


def require_action(emu: Emulator, pi: dict[str, Any], pm: dict[str, Any]) -> dict[str, Any]:
    url = f"{emu.base_url}/_emulator/3ds/{pi['id']}"
    return_url = pi.get("_return_url")
    if return_url:
        pi["next_action"] = {
            "redirect_to_url": {"return_url": return_url, "url": url},
            "type": "redirect_to_url",
        }
    else:
        # Without a return_url Stripe hands 3DS to Stripe.js; the stand-in opens the same page.
        pi["next_action"] = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": pm["id"]},
        }
    pi["status"] = "requires_action"
    emu.store.put(pi)
    emu.emit("payment_intent.requires_action", pi)
    return pi


def succeed(emu: Emulator, pi: dict[str, Any], pm: dict[str, Any], *, three_ds: str | None) -> dict[str, Any]:
    ch = new_charge(emu, pi, pm, three_ds=three_ds)
    pi["latest_charge"] = ch["id"]
    pi["next_action"] = None
    pi["last_payment_error"] = None
    if pi.get("setup_future_usage") and pi.get("customer") and not pm.get("customer"):
        pm["customer"] = pi["customer"]
        emu.store.put(pm)
        emu.emit("payment_method.attached", pm)
    if pi["capture_method"] == "manual":
        pi["status"] = "requires_capture"
        pi["amount_capturable"] = pi["amount"]
        emu.store.put(pi)
        emu.emit("charge.succeeded", ch)
        emu.emit("payment_intent.amount_capturable_updated", pi)
    else:
        capture_charge(emu, ch, pi["amount"])
        pi["status"] = "succeeded"
        pi["amount_received"] = pi["amount"]
        emu.store.put(pi)
        emu.emit("charge.succeeded", ch)
        emu.emit("payment_intent.succeeded", pi)
        disputes.open_for_charge(emu, ch)
    _after_success(emu, pi)
    return pi


def _after_success(emu: Emulator, pi: dict[str, Any]) -> None:
    if pi.get("_checkout_session"):
        from . import checkout

        checkout.complete(emu, pi["_checkout_session"], pi)
    if pi.get("_invoice"):
        from . import billing

        billing.on_payment_succeeded(emu, pi)


def decline(
    emu: Emulator, pi: dict[str, Any], pm: dict[str, Any], code: str, decline_code: str | None
) -> dict[str, Any]:
    card = payment_methods.card_of(pm)
    err = payment_methods.card_error(card, code, decline_code)
    ch = new_charge(emu, pi, pm, error=err)
    pi["latest_charge"] = ch["id"]
    pi["status"] = "requires_payment_method"
    pi["payment_method"] = None
    pi["next_action"] = None
    lpe = err.body()["error"]
    lpe.update({"charge": ch["id"], "payment_method": render(pm)})
    if ch["outcome"].get("advice_code"):
        lpe["advice_code"] = ch["outcome"]["advice_code"]
    pi["last_payment_error"] = lpe
    emu.store.put(pi)
    emu.emit("charge.failed", ch)
    emu.emit("payment_intent.payment_failed", pi)
    raise StripeError(
        402,
        "card_error",
        err.message,
        code=code,
        decline_code=decline_code,
        charge=ch["id"],
        payment_intent=render(pi),
        payment_method=render(pm),
        **({"advice_code": lpe["advice_code"]} if "advice_code" in lpe else {}),
    )


def authenticate(emu: Emulator, pi_id: str, outcome: str) -> dict[str, Any]:
    """The customer's choice on the 3DS page: `complete` or `fail`."""
    pi = get_object(emu, "payment_intent", pi_id, "payment_intent")
    if pi["status"] != "requires_action":
        raise unexpected_state(
            f"This PaymentIntent is not awaiting authentication (status {pi['status']}).", render(pi)
        )
    pm = payment_methods.resolve(emu, pi["payment_method"])
    if outcome == "fail":
        pi["status"] = "requires_payment_method"
        pi["next_action"] = None
        pi["payment_method"] = None
        pi["last_payment_error"] = {
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": AUTH_FAILED,
            "payment_method": render(pm),
            "type": "invalid_request_error",
        }
        emu.store.put(pi)
        emu.emit("payment_intent.payment_failed", pi)
        return pi
    if outcome != "complete":
        raise invalid("outcome must be complete or fail", param="outcome")
    card = payment_methods.card_of(pm)
    if card.behaviour in (cards.THREE_DS_THEN_DECLINE, cards.DECLINE):
        # The decline is recorded on the PaymentIntent; the page reports it, nothing is raised.
        with contextlib.suppress(StripeError):
            decline(emu, pi, pm, card.code or "card_declined", card.decline_code)
        return pi
    return succeed(emu, pi, pm, three_ds="challenge")


def create_pi(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    if as_str(p, "return_url") and not as_bool(p, "confirm"):
        raise invalid("You may only specify a return_url when confirm=true.", param="return_url")
    pi = new_payment_intent(emu, p)
    if as_bool(p, "confirm"):
        if as_str(p, "return_url"):
            pi["_return_url"] = p["return_url"]
        pi = confirm(
            emu, pi, {k: v for k, v in p.items() if k in ("off_session", "error_on_requires_action")}
        )
    return render(pi)


def _get_pi(req: Request) -> dict[str, Any]:
    pi = req.emu.store.get(req.args["intent"], "payment_intent")
    if pi is None:
        raise no_such("payment_intent", req.args["intent"], "intent")
    secret = req.params.get("client_secret")
    if req.api_key and req.api_key.startswith("pk_") and secret != pi["client_secret"]:
        raise invalid(
            "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
            param="client_secret",
        )
    return pi


def retrieve_pi(req: Request) -> dict[str, Any]:
    return render(_get_pi(req))


def update_pi(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    pi = _get_pi(req)
    money_fields = {"amount", "currency", "payment_method", "capture_method", "payment_method_types"}
    if pi["status"] in ("succeeded", "canceled", "processing", "requires_capture") and money_fields & set(p):
        raise unexpected_state(
            f"This PaymentIntent's {sorted(money_fields & set(p))[0]} could not be updated because it has a "
            f"status of {pi['status']}. You may only update the {sorted(money_fields & set(p))[0]} of a "
            "PaymentIntent with one of the following statuses: requires_payment_method, "
            "requires_confirmation, "
            "requires_action.",
            render(pi),
        )
    if "amount" in p:
        amount = as_int(p, "amount", required=True)
        assert amount is not None
        check_amount(amount, currency(p, required=False) or pi["currency"])
        pi["amount"] = amount
    if "currency" in p:
        pi["currency"] = currency(p)
    request_three_d_secure_apply(pi, p)
    if "customer" in p:
        customer = as_str(p, "customer")
        if customer:
            from .customers import get_customer

            get_customer(emu, customer)
        pi["customer"] = customer
    if "payment_method" in p:
        ref = as_str(p, "payment_method")
        pi["payment_method"] = payment_methods.resolve(emu, ref)["id"] if ref else None
        if pi["status"] in ("requires_payment_method", "requires_confirmation", "requires_action"):
            pi["status"] = "requires_confirmation" if ref else "requires_payment_method"
            pi["next_action"] = None
    set_fields(
        pi,
        p,
        [
            "description",
            "receipt_email",
            "shipping",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "setup_future_usage",
            "capture_method",
            "transfer_group",
        ],
        {},
    )
    apply_metadata(pi, p)
    emu.store.put(pi)
    return render(pi)


def confirm_pi(req: Request) -> dict[str, Any]:
    return render(confirm(req.emu, _get_pi(req), req.params))


def capture_pi(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    pi = _get_pi(req)
    if pi["status"] != "requires_capture":
        raise unexpected_state(
            f"This PaymentIntent could not be captured because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be captured: requires_capture.",
            render(pi),
        )
    amount = as_int(p, "amount_to_capture", default=pi["amount_capturable"])
    assert amount is not None
    if amount > pi["amount_capturable"]:
        raise invalid(
            f"The amount to capture ({amount}) must be less than or equal to the amount capturable "
            f"({pi['amount_capturable']}).",
            code="amount_too_large",
            param="amount_to_capture",
        )
    if amount <= 0:
        raise invalid(
            "Amount to capture must be greater than 0.", code="amount_too_small", param="amount_to_capture"
        )
    ch = get_object(emu, "charge", pi["latest_charge"])
    capture_charge(emu, ch, amount)
    apply_metadata(pi, p)
    pi["status"] = "succeeded"
    pi["amount_received"] = amount
    pi["amount_capturable"] = 0
    emu.store.put(pi)
    emu.emit("charge.captured", ch)
    emu.emit("payment_intent.succeeded", pi)
    disputes.open_for_charge(emu, ch)
    return render(pi)


def cancel(
    emu: Emulator, pi: dict[str, Any], reason: str | None, *, via_checkout: bool = False
) -> dict[str, Any]:
    if pi.get("_checkout_session") and not via_checkout:
        raise unexpected_state(
            "You cannot cancel this PaymentIntent because it belongs to a Checkout Session. To cancel, "
            "expire the "
            "Checkout Session instead.",
            render(pi),
        )
    if pi["status"] not in CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be canceled: "
            + ", ".join(CANCELABLE)
            + ".",
            render(pi),
        )
    if pi["status"] == "requires_capture" and pi.get("latest_charge"):
        ch = get_object(emu, "charge", pi["latest_charge"])
        ch["amount_refunded"] = ch["amount"]
        ch["refunded"] = True
        emu.store.put(ch)
        emu.emit("charge.refunded", ch)
    pi["status"] = "canceled"
    pi["canceled_at"] = emu.now()
    pi["cancellation_reason"] = reason
    pi["amount_capturable"] = 0
    pi["next_action"] = None
    emu.store.put(pi)
    emu.emit("payment_intent.canceled", pi)
    return pi


def cancel_pi(req: Request) -> dict[str, Any]:
    reason = as_str(req.params, "cancellation_reason")
    allowed = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
    if reason and reason not in allowed:
        raise invalid(
            f"Invalid cancellation_reason: must be one of {', '.join(allowed)}", param="cancellation_reason"
        )
    return render(cancel(req.emu, _get_pi(req), reason))


def list_pis(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("payment_intent")
    customer = as_str(req.params, "customer")
    if customer:
        objs = [o for o in objs if o.get("customer") == customer]
    return list_response(req, created_filter(objs, req.params), "/v1/payment_intents")


route("POST", "/v1/payment_intents", create_pi)
route("GET", "/v1/payment_intents", list_pis)
route("GET", "/v1/payment_intents/{intent}", retrieve_pi)
route("POST", "/v1/payment_intents/{intent}", update_pi)
route("POST", "/v1/payment_intents/{intent}/confirm", confirm_pi)
route("POST", "/v1/payment_intents/{intent}/capture", capture_pi)
route("POST", "/v1/payment_intents/{intent}/cancel", cancel_pi)
