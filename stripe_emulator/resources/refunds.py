"""Refunds: create (with the refund test cards' pending and failing paths), list, retrieve, update."""

from __future__ import annotations

from typing import Any

from .. import cards
from ..errors import invalid
from ..server import Request
from ..state import Emulator, render
from . import disputes
from .balance import new_balance_transaction
from .common import (
    apply_metadata,
    as_int,
    as_str,
    created_filter,
    get_object,
    list_response,
    route,
)
from .money import fmt_amount


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
    if disputes.blocks_refund(emu, ch):
        raise invalid(disputes.CHARGED_BACK.format(charge=ch["id"]), code="charge_disputed", param="charge")
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
    disputes.close_inquiries_on_refund(emu, ch)
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
    emu.emit("charge.refund.updated", re, {"status": "pending"})


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
    refunded = ch["refunded"]
    ch["amount_refunded"] = max(0, ch["amount_refunded"] - re["amount"])
    ch["refunded"] = False
    emu.store.put(ch)
    prev = {"status": "succeeded", "failure_reason": None, "failure_balance_transaction": None}
    emu.emit("refund.updated", re, prev)
    emu.emit("charge.refund.updated", re, prev)
    emu.emit("refund.failed", re)
    emu.emit(
        "charge.updated", ch, {"amount_refunded": ch["amount_refunded"] + re["amount"], "refunded": refunded}
    )


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


route("POST", "/v1/refunds", create_refund)
route("GET", "/v1/refunds", list_refunds)
route(
    "GET",
    "/v1/refunds/{refund}",
    lambda req: render(get_object(req.emu, "refund", req.args["refund"], "refund")),
)
route("POST", "/v1/refunds/{refund}", update_refund)
