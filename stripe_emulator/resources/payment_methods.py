"""PaymentMethods (type=card): from a raw test number or a `pm_card_*` alias; attach and detach.

A `pm_card_*` alias (or `tok_*`) given anywhere a PaymentMethod is accepted makes a fresh `pm_`
object, as Stripe does. The raw number stays on the object (private `_number`) so the charge
path can look up the test card's behaviour.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import cards
from ..errors import StripeError, invalid, missing, no_such
from ..server import Request
from ..state import Emulator, render
from .common import apply_metadata, as_dict, as_int, as_str, list_response, route


def _address(value: Any = None) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    return {k: value.get(k) for k in ("city", "country", "line1", "line2", "postal_code", "state")}


def billing_details(value: Any = None) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    return {
        "address": _address(value.get("address")),
        "email": value.get("email"),
        "name": value.get("name"),
        "phone": value.get("phone"),
        "tax_id": None,
    }


def card_error(card: cards.TestCard, code: str, decline_code: str | None, **extra: Any) -> StripeError:
    message = (
        cards.MESSAGES.get(decline_code or code) or cards.MESSAGES.get(code) or "Your card was declined."
    )
    return StripeError(402, "card_error", message, code=code, decline_code=decline_code, **extra)


def new_card_pm(
    emu: Emulator,
    number: str,
    exp_month: int = 12,
    exp_year: int = 2034,
    details: Any = None,
    cvc: str | None = None,
) -> dict[str, Any]:
    number = number.replace(" ", "").replace("-", "")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not cards.luhn_ok(number):
        raise StripeError(
            402,
            "card_error",
            cards.MESSAGES["incorrect_number"],
            code="incorrect_number",
            param="card[number]",
        )
    if not 1 <= exp_month <= 12:
        raise StripeError(
            402,
            "card_error",
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="card[exp_month]",
        )
    if exp_year < 100:
        exp_year += 2000
    year = int(emu.clock.time() // (365.2425 * 86400)) + 1970
    if exp_year < year:
        raise StripeError(
            402,
            "card_error",
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            param="card[exp_year]",
        )
    card = cards.lookup_number(number)
    fingerprint = hashlib.sha256(number.encode()).hexdigest()[:16]
    pm = emu.base_object(
        "pm",
        "payment_method",
        allow_redisplay="unspecified",
        billing_details=billing_details(details),
        card={
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked" if cvc else None,
            },
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "last4": number[-4:],
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        customer=None,
        customer_account=None,
        metadata={},
        type="card",
        _number=number,
    )
    emu.store.put(pm)
    return pm


def resolve(emu: Emulator, ref: str, param: str = "payment_method") -> dict[str, Any]:
    """An existing `pm_` object, or a fresh one for a `pm_card_*` / `tok_*` alias."""
    alias = cards.lookup_alias(ref)
    if alias is not None:
        return new_card_pm(emu, alias.number)
    if ref in ("pm_card_visa_3ds", "pm_card_threeDSecure2Required"):
        return new_card_pm(emu, "4000000000003220")
    pm = emu.store.get(ref, "payment_method")
    if pm is None:
        raise no_such("PaymentMethod", ref, param)
    return pm


def card_of(pm: dict[str, Any]) -> cards.TestCard:
    return cards.lookup_number(pm.get("_number", "4242424242424242"))


def from_card_params(emu: Emulator, card: dict[str, Any], details: Any = None) -> dict[str, Any]:
    number = as_str(card, "number")
    if number is None:
        raise missing("card[number]")
    return new_card_pm(
        emu,
        number,
        as_int(card, "exp_month", default=12) or 12,
        as_int(card, "exp_year", default=2034) or 2034,
        details,
        as_str(card, "cvc"),
    )


def attach_to(emu: Emulator, ref: str, customer_id: str, param: str = "customer") -> dict[str, Any]:
    from .customers import get_customer

    pm = resolve(emu, ref)
    get_customer(emu, customer_id, param)
    if pm.get("customer") and pm["customer"] != customer_id:
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
        )
    card = card_of(pm)
    if not card.attachable:
        # Attaching runs a verification the issuer declines, like Stripe's issuer-decline cards.
        raise card_error(card, card.code or "card_declined", card.decline_code, param="")
    if pm.get("customer") != customer_id:
        pm["customer"] = customer_id
        emu.store.put(pm)
        emu.emit("payment_method.attached", pm)
    return pm


def create(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    ptype = as_str(p, "type")
    if as_str(p, "payment_method"):
        # Cloning a platform PaymentMethod (Connect); here: a copy of the referenced one.
        src = resolve(emu, p["payment_method"])
        return render(new_card_pm(emu, src["_number"], src["card"]["exp_month"], src["card"]["exp_year"]))
    if ptype is None:
        raise missing("type")
    if ptype != "card":
        raise invalid(f"The payment method type `{ptype}` is not supported by the emulator.", param="type")
    card = as_dict(p, "card")
    if card is None:
        raise missing("card")
    if "token" in card:
        alias = cards.lookup_alias(str(card["token"]))
        if alias is None:
            raise no_such("token", str(card["token"]), "card[token]")
        pm = new_card_pm(emu, alias.number, details=p.get("billing_details"))
    else:
        pm = from_card_params(emu, card, p.get("billing_details"))
    apply_metadata(pm, p)
    emu.store.put(pm)
    return render(pm)


def retrieve(req: Request) -> dict[str, Any]:
    pm = req.emu.store.get(req.args["payment_method"], "payment_method")
    if pm is None:
        raise no_such("PaymentMethod", req.args["payment_method"])
    return render(pm)


def update(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    pm = resolve(emu, req.args["payment_method"], "id")
    prev: dict[str, Any] = {}
    if "billing_details" in p:
        prev["billing_details"] = pm["billing_details"]
        merged = {**pm["billing_details"], **(p["billing_details"] or {})}
        pm["billing_details"] = billing_details(merged)
    card = as_dict(p, "card") or {}
    for key in ("exp_month", "exp_year"):
        if key in card:
            prev.setdefault("card", dict(pm["card"]))
            pm["card"][key] = as_int(card, key)
    apply_metadata(pm, p, prev)
    emu.store.put(pm)
    if prev:
        emu.emit("payment_method.updated", pm, prev)
    return render(pm)


def attach(req: Request) -> dict[str, Any]:
    customer = as_str(req.params, "customer", required=True)
    assert customer is not None
    return render(attach_to(req.emu, req.args["payment_method"], customer))


def detach(req: Request) -> dict[str, Any]:
    emu = req.emu
    pm = resolve(emu, req.args["payment_method"], "payment_method")
    if not pm.get("customer"):
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    prev = {"customer": pm["customer"]}
    pm["customer"] = None
    emu.store.put(pm)
    emu.emit("payment_method.detached", pm, prev)
    return render(pm)


def list_(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("payment_method")
    customer = as_str(req.params, "customer")
    if customer:
        from .customers import get_customer

        get_customer(req.emu, customer)
        objs = [o for o in objs if o.get("customer") == customer]
    ptype = as_str(req.params, "type")
    if ptype:
        objs = [o for o in objs if o["type"] == ptype]
    return list_response(req, objs, "/v1/payment_methods")


route("POST", "/v1/payment_methods", create)
route("GET", "/v1/payment_methods", list_)
route("GET", "/v1/payment_methods/{payment_method}", retrieve)
route("POST", "/v1/payment_methods/{payment_method}", update)
route("POST", "/v1/payment_methods/{payment_method}/attach", attach)
route("POST", "/v1/payment_methods/{payment_method}/detach", detach)
