"""PaymentIntents, Charges, Refunds and BalanceTransactions: the card payment state machine.

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
import copy
import uuid
from typing import Any

from .. import cards
from ..errors import StripeError, invalid, missing, no_such, unexpected_state
from ..server import Request
from ..state import Emulator, render
from . import payment_methods
from .common import (
    VIRTUAL,
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

# Minimum charge amounts per currency (Stripe's table, abbreviated): (minimum, symbol).
MINIMUMS: dict[str, tuple[int, str]] = {
    "usd": (50, "$"),
    "eur": (50, "€"),
    "gbp": (30, "£"),
    "cad": (50, "$"),
    "aud": (50, "$"),
    "chf": (50, "CHF "),
    "nzd": (50, "$"),
    "sgd": (50, "$"),
    "hkd": (400, "$"),
    "jpy": (50, "¥"),
    "dkk": (250, "kr "),
    "nok": (300, "kr "),
    "sek": (300, "kr "),
    "pln": (200, "zł"),
    "mxn": (1000, "$"),
    "inr": (50, "₹"),
    "brl": (50, "R$"),
    "czk": (1500, "Kč"),
    "huf": (17500, "Ft"),
    "thb": (1000, "฿"),
}
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
MAX_AMOUNT = 99999999
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


def fmt_amount(amount: int, cur: str) -> str:
    symbol = MINIMUMS.get(cur, (0, ""))[1]
    if cur in ZERO_DECIMAL:
        return f"{symbol}{amount:,}"
    return f"{symbol}{amount / 100:,.2f}"


def check_amount(amount: int, cur: str, param: str = "amount") -> None:
    minimum = MINIMUMS.get(cur, (50, ""))[0]
    if amount < minimum:
        raise invalid(
            f"Amount must be at least {fmt_amount(minimum, cur)} {cur}", code="amount_too_small", param=param
        )
    if amount > MAX_AMOUNT:
        raise invalid(
            f"Amount must be no more than {fmt_amount(MAX_AMOUNT, cur)}", code="amount_too_large", param=param
        )


# balance transactions ---------------------------------------------------------------------------


def new_balance_transaction(
    emu: Emulator,
    amount: int,
    cur: str,
    source: str,
    kind: str,
    category: str,
    description: str | None,
    fee: int = 0,
) -> dict[str, Any]:
    txn = emu.base_object(
        "txn",
        "balance_transaction",
        amount=amount,
        available_on=emu.now() + 2 * 86400,
        balance_type="payments",
        currency=cur,
        description=description,
        exchange_rate=None,
        fee=fee,
        fee_details=(
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": cur,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
        net=amount - fee,
        reporting_category=category,
        source=source,
        status="pending",
        type=kind,
    )
    txn.pop("livemode", None)  # balance transactions carry no livemode field
    emu.store.put(txn)
    return txn


def stripe_fee(amount: int, cur: str) -> int:
    """An emulated 2.9% + 30 (minor units) processing fee, so net != amount as in real data."""
    return round(amount * 0.029) + (0 if cur in ZERO_DECIMAL else 30)


# charges ----------------------------------------------------------------------------------------


def _three_ds(flow: str) -> dict[str, Any]:
    return {
        "authentication_flow": flow,
        "electronic_commerce_indicator": "05",
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": "2.2.0",
    }


def new_charge(
    emu: Emulator,
    pi: dict[str, Any],
    pm: dict[str, Any],
    *,
    error: StripeError | None = None,
    three_ds: str | None = None,
) -> dict[str, Any]:
    card = payment_methods.card_of(pm)
    pm_card = pm["card"]
    if error is None:
        outcome = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": emu.rng.randint(5, 60),
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    elif card.blocked:
        outcome = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "not_sent_to_network",
            "reason": "highest_risk_level",
            "risk_level": "highest",
            "risk_score": 95,
            "seller_message": cards.SELLER_MESSAGES["fraudulent"],
            "type": "blocked",
        }
    else:
        reason = error.decline_code or error.code
        outcome = {
            "advice_code": "try_again_later" if reason == "processing_error" else "do_not_try_again",
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": reason,
            "risk_level": "normal",
            "risk_score": emu.rng.randint(5, 60),
            "seller_message": cards.SELLER_MESSAGES.get(
                reason or "", cards.SELLER_MESSAGES["generic_decline"]
            ),
            "type": "issuer_declined",
        }
    ok = error is None
    ch = emu.base_object(
        "ch",
        "charge",
        amount=pi["amount"],
        amount_captured=0,
        amount_refunded=0,
        application=None,
        application_fee=None,
        application_fee_amount=None,
        balance_transaction=None,
        billing_details=copy.deepcopy(pm["billing_details"]),
        calculated_statement_descriptor="EMULATOR*"
        + (pi.get("statement_descriptor_suffix") or "TEST")[:12].upper(),
        captured=False,
        currency=pi["currency"],
        customer=pi.get("customer"),
        description=pi.get("description"),
        disputed=False,
        failure_balance_transaction=None,
        failure_code=error.code if error else None,
        failure_message=error.message if error else None,
        fraud_details={"stripe_report": "fraudulent"} if card.blocked else {},
        metadata=dict(pi.get("metadata") or {}),
        on_behalf_of=None,
        outcome=outcome,
        paid=ok,
        payment_intent=pi["id"],
        payment_method=pm["id"],
        payment_method_details={
            "card": {
                "amount_authorized": pi["amount"] if ok else None,
                "authorization_code": f"{emu.rng.randint(0, 999999):06d}" if ok else None,
                "brand": pm_card["brand"],
                "checks": copy.deepcopy(pm_card["checks"]),
                "country": pm_card["country"],
                "exp_month": pm_card["exp_month"],
                "exp_year": pm_card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": pm_card["fingerprint"],
                "funding": pm_card["funding"],
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": pm_card["last4"],
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": pm_card["brand"],
                "network_token": {"used": False},
                "network_transaction_id": str(emu.rng.randint(10**14, 10**15 - 1)) if ok else None,
                "overcapture": {"maximum_amount_capturable": pi["amount"], "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": _three_ds(three_ds) if three_ds else None,
                "wallet": None,
            },
            "type": "card",
        },
        radar_options={},
        receipt_email=pi.get("receipt_email"),
        receipt_number=None,
        receipt_url=f"{emu.base_url}/_emulator/receipts/{pi['id']}",
        refunded=False,
        refunds=None,
        review=None,
        shipping=copy.deepcopy(pi.get("shipping")),
        source=None,
        source_transfer=None,
        statement_descriptor=pi.get("statement_descriptor"),
        statement_descriptor_suffix=pi.get("statement_descriptor_suffix"),
        status="succeeded" if ok else "failed",
        transfer_data=None,
        transfer_group=None,
        _card=card.number,
    )
    emu.store.put(ch)
    return ch


def _capture_charge(emu: Emulator, ch: dict[str, Any], amount: int) -> None:
    ch["captured"] = True
    ch["amount_captured"] = amount
    if amount < ch["amount"]:
        # The uncaptured remainder is released; Stripe reports it as refunded on the charge.
        ch["amount_refunded"] = ch["amount"] - amount
    txn = new_balance_transaction(
        emu,
        amount,
        ch["currency"],
        ch["id"],
        "charge",
        "charge",
        ch.get("description"),
        stripe_fee(amount, ch["currency"]),
    )
    ch["balance_transaction"] = txn["id"]
    emu.store.put(ch)


# payment intents --------------------------------------------------------------------------------


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
        _capture_charge(emu, ch, pi["amount"])
        pi["status"] = "succeeded"
        pi["amount_received"] = pi["amount"]
        emu.store.put(pi)
        emu.emit("charge.succeeded", ch)
        emu.emit("payment_intent.succeeded", pi)
    _after_success(emu, pi)
    return pi


def _after_success(emu: Emulator, pi: dict[str, Any]) -> None:
    if pi.get("_checkout_session"):
        from . import checkout

        checkout.complete(emu, pi["_checkout_session"], pi)


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
    if card.behaviour == cards.THREE_DS_THEN_DECLINE:
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
    _capture_charge(emu, ch, amount)
    apply_metadata(pi, p)
    pi["status"] = "succeeded"
    pi["amount_received"] = amount
    pi["amount_capturable"] = 0
    emu.store.put(pi)
    emu.emit("charge.captured", ch)
    emu.emit("payment_intent.succeeded", pi)
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


# charges API ------------------------------------------------------------------------------------


def retrieve_charge(req: Request) -> dict[str, Any]:
    return render(get_object(req.emu, "charge", req.args["charge"], "charge"))


def update_charge(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    ch = get_object(emu, "charge", req.args["charge"], "charge")
    prev: dict[str, Any] = {}
    set_fields(ch, p, ["description", "receipt_email", "shipping"], prev)
    apply_metadata(ch, p, prev)
    emu.store.put(ch)
    if prev:
        emu.emit("charge.updated", ch, prev)
    return render(ch)


def list_charges(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("charge")
    for name in ("payment_intent", "customer"):
        value = as_str(req.params, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, req.params), "/v1/charges")


# refunds ----------------------------------------------------------------------------------------


def create_refund(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    charge_id = as_str(p, "charge")
    pi_id = as_str(p, "payment_intent")
    if charge_id and pi_id:
        raise invalid(
            "You cannot specify both charge and payment_intent.",
            code="parameters_exclusive",
            param="payment_intent",
        )
    if pi_id:
        pi = get_object(emu, "payment_intent", pi_id, "payment_intent", "payment_intent")
        if pi["status"] != "succeeded" or not pi.get("latest_charge"):
            raise invalid(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                code="charge_not_refundable" if pi["status"] == "requires_capture" else None,
                param="payment_intent",
            )
        ch = get_object(emu, "charge", pi["latest_charge"], "charge", "charge")
    elif charge_id:
        ch = get_object(emu, "charge", charge_id, "charge", "charge")
    else:
        raise invalid(
            "One of the following params should be provided for this request: payment_intent or charge.",
            code="parameter_missing",
        )
    if ch["status"] != "succeeded":
        raise invalid(
            f"Charge {ch['id']} has failed and cannot be refunded.",
            code="charge_not_refundable",
            param="charge",
        )
    if not ch["captured"]:
        raise invalid(
            f"Charge {ch['id']} has not been captured and cannot be refunded. Cancel the PaymentIntent to "
            "release "
            "the authorization instead.",
            code="charge_not_refundable",
            param="charge",
        )
    remaining = ch["amount"] - ch["amount_refunded"]
    if ch["refunded"] or remaining <= 0:
        raise invalid(
            f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded", param="charge"
        )
    amount = as_int(p, "amount", default=remaining)
    assert amount is not None
    if amount <= 0:
        raise invalid("Refund amount must be greater than 0.", code="amount_too_small", param="amount")
    if amount > remaining:
        what = "charge amount" if ch["amount_refunded"] == 0 else "unrefunded amount on charge"
        raise invalid(
            f"Refund amount ({fmt_amount(amount, ch['currency'])}) is greater than {what} "
            f"({fmt_amount(remaining, ch['currency'])})",
            code="amount_too_large",
            param="amount",
        )
    reason = as_str(p, "reason")
    if reason and reason not in ("duplicate", "fraudulent", "requested_by_customer"):
        raise invalid(
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", param="reason"
        )
    card = cards.lookup_number(ch.get("_card", ""))
    pending = card.refund == "pending"
    re = emu.base_object(
        "re",
        "refund",
        amount=amount,
        balance_transaction=None,
        charge=ch["id"],
        currency=ch["currency"],
        customer=ch.get("customer"),
        customer_account=None,
        destination_details={
            "card": {
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        metadata={},
        payment_intent=ch.get("payment_intent"),
        payment_method=ch.get("payment_method"),
        reason=reason,
        receipt_number=None,
        source_transfer_reversal=None,
        status="pending" if pending else "succeeded",
        transfer_reversal=None,
    )
    re.pop("livemode", None)
    apply_metadata(re, p)
    txn = new_balance_transaction(
        emu, -amount, ch["currency"], re["id"], "refund", "refund", "REFUND FOR CHARGE"
    )
    re["balance_transaction"] = txn["id"]
    emu.store.put(re)
    prev = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
    ch["amount_refunded"] += amount
    ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
    emu.store.put(ch)
    emu.emit("refund.created", re)
    emu.emit("charge.refunded", ch, prev)
    if pending:
        emu.later(0.3, lambda: _settle_pending_refund(emu, re["id"]))
    elif card.refund == "fail":
        emu.later(0.3, lambda: _fail_refund(emu, re["id"]))
    return render(re)


def _settle_pending_refund(emu: Emulator, re_id: str) -> None:
    re = emu.store.get(re_id, "refund")
    if re is None or re["status"] != "pending":
        return
    re["status"] = "succeeded"
    emu.store.put(re)
    emu.emit("refund.updated", re, {"status": "pending"})


def _fail_refund(emu: Emulator, re_id: str) -> None:
    re = emu.store.get(re_id, "refund")
    if re is None or re["status"] != "succeeded":
        return
    ch = get_object(emu, "charge", re["charge"])
    txn = new_balance_transaction(
        emu, re["amount"], re["currency"], re["id"], "refund_failure", "refund_failure", "REFUND FAILURE"
    )
    re["status"] = "failed"
    re["failure_reason"] = "expired_or_canceled_card"
    re["failure_balance_transaction"] = txn["id"]
    emu.store.put(re)
    ch["amount_refunded"] = max(0, ch["amount_refunded"] - re["amount"])
    ch["refunded"] = False
    emu.store.put(ch)
    emu.emit(
        "refund.updated",
        re,
        {"status": "succeeded", "failure_reason": None, "failure_balance_transaction": None},
    )
    emu.emit("refund.failed", re)


def update_refund(req: Request) -> dict[str, Any]:
    emu = req.emu
    re = get_object(emu, "refund", req.args["refund"], "refund")
    prev: dict[str, Any] = {}
    apply_metadata(re, req.params, prev)
    emu.store.put(re)
    if prev:
        emu.emit("refund.updated", re, prev)
    return render(re)


def list_refunds(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("refund")
    for name in ("payment_intent", "charge"):
        value = as_str(req.params, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, req.params), "/v1/refunds")


def list_balance_transactions(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("balance_transaction")
    for name in ("source", "type", "currency"):
        value = as_str(req.params, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, req.params), "/v1/balance_transactions")


route("POST", "/v1/payment_intents", create_pi)
route("GET", "/v1/payment_intents", list_pis)
route("GET", "/v1/payment_intents/{intent}", retrieve_pi)
route("POST", "/v1/payment_intents/{intent}", update_pi)
route("POST", "/v1/payment_intents/{intent}/confirm", confirm_pi)
route("POST", "/v1/payment_intents/{intent}/capture", capture_pi)
route("POST", "/v1/payment_intents/{intent}/cancel", cancel_pi)
route("GET", "/v1/charges", list_charges)
route("GET", "/v1/charges/{charge}", retrieve_charge)
route("POST", "/v1/charges/{charge}", update_charge)
route("POST", "/v1/refunds", create_refund)
route("GET", "/v1/refunds", list_refunds)
route(
    "GET",
    "/v1/refunds/{refund}",
    lambda req: render(get_object(req.emu, "refund", req.args["refund"], "refund")),
)
route("POST", "/v1/refunds/{refund}", update_refund)
route("GET", "/v1/balance_transactions", list_balance_transactions)
route(
    "GET",
    "/v1/balance_transactions/{id}",
    lambda req: render(get_object(req.emu, "balance_transaction", req.args["id"], "balance transaction")),
)


def _charge_refunds(emu: Emulator, ch: dict[str, Any]) -> dict[str, Any]:
    refunds = [render(r) for r in emu.store.all("refund") if r["charge"] == ch["id"]]
    return {"object": "list", "data": refunds, "has_more": False, "url": f"/v1/charges/{ch['id']}/refunds"}


# `refunds` is null on a charge unless expanded (Stripe stopped embedding it in 2022-11-15).
VIRTUAL["charge"] = {"refunds": _charge_refunds}
