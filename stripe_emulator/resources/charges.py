"""Charges: one per payment attempt, created by the PaymentIntent state machine; list, retrieve, update."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from .. import cards
from ..errors import StripeError
from ..server import Request
from ..state import Emulator, render
from . import payment_methods
from .balance import charge_transaction
from .common import (
    VIRTUAL,
    apply_metadata,
    as_str,
    created_filter,
    get_object,
    list_response,
    route,
    set_fields,
)


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


def capture_charge(emu: Emulator, ch: dict[str, Any], amount: int) -> None:
    ch["captured"] = True
    ch["amount_captured"] = amount
    if amount < ch["amount"]:
        # The uncaptured remainder is released; Stripe reports it as refunded on the charge.
        ch["amount_refunded"] = ch["amount"] - amount
    bypass = cards.lookup_number(ch.get("_card", "")).bypass_pending
    txn = charge_transaction(emu, ch, amount, bypass_pending=bypass)
    ch["balance_transaction"] = txn["id"]
    emu.store.put(ch)


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


route("GET", "/v1/charges", list_charges)
route("GET", "/v1/charges/{charge}", retrieve_charge)
route("POST", "/v1/charges/{charge}", update_charge)


def _charge_refunds(emu: Emulator, ch: dict[str, Any]) -> dict[str, Any]:
    refunds = [render(r) for r in emu.store.all("refund") if r["charge"] == ch["id"]]
    return {"object": "list", "data": refunds, "has_more": False, "url": f"/v1/charges/{ch['id']}/refunds"}


# `refunds` is null on a charge unless expanded (Stripe stopped embedding it in 2022-11-15).
VIRTUAL["charge"] = {"refunds": _charge_refunds}
