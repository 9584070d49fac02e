"""Disputes and early fraud warnings, opened by Stripe's dispute test cards.

A charge made with a dispute card is disputed right after its success events, in the same
request (Stripe does it "shortly after"): `charge.dispute.created`, the charge `disputed`, and for a
chargeback (not an inquiry) `charge.dispute.funds_withdrawn` with an `adjustment` balance
transaction of −amount and the dispute fee.

    needs_response ─ evidence, submit=false ─▶ needs_response (has_evidence)
                   ─ submit=true ─▶ under_review ─ decision (dispute_decision_seconds later) ─▶ won / lost
                   ─ close ─▶ lost
    warning_needs_response (inquiry) ─ submit ─▶ warning_under_review ─▶ warning_closed
                                      (escalate_inquiry_evidence: becomes a needs_response chargeback)

Stripe's magic evidence (`evidence[uncategorized_text]`) decides: `winning_evidence` → won, with
`charge.dispute.funds_reinstated` and a `dispute_reversal` transaction of the amount and fee;
`losing_evidence` → lost. Other evidence is decided as lost, as an issuer without a reason to
side with the merchant would. Once submitted, evidence can no longer be changed.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import cards
from ..errors import invalid
from ..server import Request
from ..state import Emulator, render
from . import balance
from .common import (
    apply_metadata,
    as_bool,
    as_dict,
    as_str,
    created_filter,
    get_object,
    list_response,
    route,
)

TEXT_EVIDENCE = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
)
FILE_EVIDENCE = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)
TEXT_LIMIT = 150_000  # all text evidence together, in characters
OPEN = ("needs_response", "warning_needs_response")
DISPUTE_REASONS = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
REASONS = {"fraudulent": ("fraudulent", "10.4"), "product_not_received": ("product_not_received", "13.1")}
CHARGED_BACK = "Charge {charge} has been charged back; cannot issue a refund."
ALREADY_SUBMITTED = (
    "This dispute has already been submitted, and its evidence can no longer be updated. You have only one "
    "opportunity to submit evidence for a dispute."
)
CLOSED = "This dispute is already closed."
EVIDENCE_TOO_LONG = "The total length of the evidence text fields cannot exceed 150,000 characters."


def _empty_evidence() -> dict[str, Any]:
    evidence: dict[str, Any] = dict.fromkeys(TEXT_EVIDENCE + FILE_EVIDENCE)
    evidence["enhanced_evidence"] = {}
    return evidence


def open_for_charge(emu: Emulator, ch: dict[str, Any]) -> None:
    """After a captured charge's success events: the dispute or fraud warning its card asks for."""
    card = cards.lookup_number(ch.get("_card", ""))
    if card.early_fraud_warning:
        _early_fraud_warning(emu, ch)
    if card.dispute in ("inquiry",):
        _open(emu, ch, "general", inquiry=True)
    elif card.dispute == "multiple":
        _open(emu, ch, "fraudulent", inquiry=False)
        _open(emu, ch, "product_not_received", inquiry=False, amount=ch["amount_captured"] // 2 or 1)
    elif card.dispute:
        _open(emu, ch, REASONS.get(card.dispute, ("fraudulent", "10.4"))[0], inquiry=False)


def open_on_demand(
    emu: Emulator,
    charge_id: str,
    *,
    reason: str = "fraudulent",
    inquiry: bool = False,
    amount: int | None = None,
) -> dict[str, Any]:
    """A dispute on any succeeded, captured charge (`POST /_emulator/charges/{ch}/dispute`)."""
    if reason not in DISPUTE_REASONS:
        raise invalid(f"reason must be one of {', '.join(DISPUTE_REASONS)}", param="reason")
    ch = get_object(emu, "charge", charge_id, "charge", "charge")
    if ch["status"] != "succeeded" or not ch["captured"]:
        raise invalid(f"Charge {charge_id} has no captured funds to dispute.", param="charge")
    if amount is not None and not 0 < amount <= ch["amount_captured"]:
        raise invalid("amount must be between 1 and the captured amount", param="amount")
    return _open(emu, ch, reason, inquiry=inquiry, amount=amount)


def _open(
    emu: Emulator, ch: dict[str, Any], reason: str, *, inquiry: bool, amount: int | None = None
) -> dict[str, Any]:
    now = emu.now()
    amount = ch["amount_captured"] if amount is None else amount
    card = (ch.get("payment_method_details") or {}).get("card", {})
    du = emu.base_object(
        "dp",
        "dispute",
        amount=amount,
        balance_transactions=[],
        charge=ch["id"],
        currency=ch["currency"],
        enhanced_eligibility_types=[],
        evidence=_empty_evidence(),
        evidence_details={
            "due_by": balance.start_of_day(now) + (emu.money.dispute_due_days + 1) * balance.DAY - 1,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        is_charge_refundable=inquiry,
        metadata={},
        payment_intent=ch.get("payment_intent"),
        payment_method_details={
            "card": {
                "brand": card.get("brand", "visa"),
                "case_type": "inquiry" if inquiry else "chargeback",
                "network": card.get("network") or card.get("brand", "visa"),
                "network_reason_code": REASONS.get(reason, ("", "10.4"))[1],
            },
            "type": "card",
        },
        reason=reason,
        status="warning_needs_response" if inquiry else "needs_response",
        _txns=[],  # ids; `balance_transactions` embeds the objects, as Stripe does
    )
    emu.store.put(du)
    ch["disputed"] = True
    emu.store.put(ch)
    emu.emit("charge.dispute.created", du)
    if not inquiry:
        _withdraw(emu, du)
    return du


def _withdraw(emu: Emulator, du: dict[str, Any]) -> None:
    fee = balance.dispute_fee(du["currency"])
    txn = balance.new_balance_transaction(
        emu,
        -du["amount"],
        du["currency"],
        du["id"],
        "adjustment",
        "dispute",
        f"Chargeback withdrawal for {du['charge']}",
        fee,
        fee_description=balance.DISPUTE_FEE_DESCRIPTION,
    )
    _add_transaction(du, txn)
    du["is_charge_refundable"] = False
    emu.store.put(du)
    emu.emit("charge.dispute.funds_withdrawn", du)


def _add_transaction(du: dict[str, Any], txn: dict[str, Any]) -> None:
    du["_txns"].append(txn["id"])
    du["balance_transactions"].append(render(txn))


def _early_fraud_warning(emu: Emulator, ch: dict[str, Any]) -> None:
    efw = emu.base_object(
        "issfr",
        "radar.early_fraud_warning",
        actionable=True,
        charge=ch["id"],
        fraud_type="made_with_stolen_card",
        payment_intent=ch.get("payment_intent"),
    )
    emu.store.put(efw)
    emu.emit("radar.early_fraud_warning.created", efw)


def blocks_refund(emu: Emulator, ch: dict[str, Any]) -> bool:
    """A chargeback (not an inquiry) forbids refunding its charge."""
    return any(du["charge"] == ch["id"] and not du["is_charge_refundable"] for du in emu.store.all("dispute"))


def close_inquiries_on_refund(emu: Emulator, ch: dict[str, Any]) -> None:
    """Refunding an inquiry's charge closes the inquiry (Stripe: the issuer needs nothing more)."""
    for du in emu.store.all("dispute"):
        if du["charge"] == ch["id"] and du["status"] in ("warning_needs_response", "warning_under_review"):
            _close(emu, du, "warning_closed")


# evidence, submission and the decision ---------------------------------------------------------


def _close(emu: Emulator, du: dict[str, Any], status: str) -> None:
    prev = {"status": du["status"]}
    du["status"] = status
    du.pop("_decide_at", None)
    if status == "won" and du["_txns"]:
        withdrawn = emu.store.objects[du["_txns"][0]]
        txn = balance.new_balance_transaction(
            emu,
            du["amount"],
            du["currency"],
            du["id"],
            "adjustment",
            "dispute_reversal",
            f"Chargeback reversal for {du['charge']}",
            -withdrawn["fee"],
            fee_description=balance.DISPUTE_FEE_DESCRIPTION,
        )
        _add_transaction(du, txn)
    emu.store.put(du)
    emu.emit("charge.dispute.closed", du, prev)
    if status == "won" and len(du["_txns"]) > 1:
        emu.emit("charge.dispute.funds_reinstated", du)


def _decide(emu: Emulator, du: dict[str, Any]) -> None:
    text = du["evidence"].get("uncategorized_text") or ""
    if du["status"] == "warning_under_review":
        if "escalate_inquiry_evidence" in text:
            prev = {"status": du["status"]}
            du.pop("_decide_at", None)
            du["status"] = "needs_response"
            du["payment_method_details"]["card"]["case_type"] = "chargeback"
            du["evidence_details"]["submission_count"] = 0
            emu.store.put(du)
            emu.emit("charge.dispute.updated", du, prev)
            _withdraw(emu, du)
            return
        _close(emu, du, "warning_closed")
        return
    _close(emu, du, "won" if "winning_evidence" in text else "lost")


def sweep(emu: Emulator) -> None:
    """Deadlines passing (`past_due`) and submitted evidence being decided."""
    now = emu.now()
    for du_id in list(emu.store.by_kind.get("dispute", {})):
        du = emu.store.objects[du_id]
        details = du["evidence_details"]
        if du["status"] in OPEN and not details["past_due"] and details["due_by"] and now > details["due_by"]:
            details["past_due"] = True
            emu.store.put(du)
            emu.emit("charge.dispute.updated", du, {"evidence_details": {"past_due": False}})
        decide_at = du.get("_decide_at")
        if decide_at is not None and now >= decide_at:
            _decide(emu, du)


def update_dispute(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    du = get_object(emu, "dispute", req.args["dispute"], "dispute", "dispute")
    evidence = as_dict(p, "evidence")
    submit = as_bool(p, "submit", True)  # Stripe's default: an update submits
    if du["status"] not in OPEN and (evidence or "submit" in p):
        if du["status"] in ("won", "lost", "warning_closed"):
            raise invalid(CLOSED, param="evidence" if evidence else "submit")
        raise invalid(ALREADY_SUBMITTED, param="evidence" if evidence else "submit")
    prev: dict[str, Any] = {}
    if evidence:
        _stage(emu, du, evidence, prev)
    apply_metadata(du, p, prev)
    if du["status"] in OPEN and submit and (evidence or "submit" in p):
        prev["status"] = du["status"]
        details = du["evidence_details"]
        prev.setdefault("evidence_details", {})["submission_count"] = details["submission_count"]
        details["submission_count"] += 1
        details["has_evidence"] = True
        du["status"] = "warning_under_review" if du["status"] == "warning_needs_response" else "under_review"
        du["_decide_at"] = emu.now() + emu.money.dispute_decision_seconds
    emu.store.put(du)
    if prev:
        emu.emit("charge.dispute.updated", du, prev)
    if du.get("_decide_at") is not None and emu.now() >= du["_decide_at"]:
        _decide(emu, du)
    return render(du)


def _stage(emu: Emulator, du: dict[str, Any], evidence: dict[str, Any], prev: dict[str, Any]) -> None:
    allowed = set(TEXT_EVIDENCE) | set(FILE_EVIDENCE) | {"enhanced_evidence"}
    staged = copy.deepcopy(du["evidence"])
    before: dict[str, Any] = {}
    for name, value in evidence.items():
        if name not in allowed:
            raise invalid(f"Received unknown parameter: evidence[{name}]", param=f"evidence[{name}]")
        value = None if value == "" else value
        if name in FILE_EVIDENCE and value is not None:
            file = emu.store.get(str(value), "file")
            if file is None:
                raise invalid(
                    f"No such file upload: '{value}'", code="resource_missing", param=f"evidence[{name}]"
                )
            if file["purpose"] != "dispute_evidence":
                raise invalid(
                    f"The file {value} has purpose {file['purpose']}, but evidence files must have purpose "
                    "dispute_evidence.",
                    param=f"evidence[{name}]",
                )
        if staged.get(name) != value:
            before[name] = staged.get(name)
            staged[name] = value
    if sum(len(staged[n] or "") for n in TEXT_EVIDENCE) > TEXT_LIMIT:
        raise invalid(EVIDENCE_TOO_LONG, param="evidence")
    du["evidence"] = staged
    if before:
        prev["evidence"] = before
    details = du["evidence_details"]
    if not details["has_evidence"]:
        prev.setdefault("evidence_details", {})["has_evidence"] = False
        details["has_evidence"] = True


def close_dispute(req: Request) -> dict[str, Any]:
    emu = req.emu
    du = get_object(emu, "dispute", req.args["dispute"], "dispute", "dispute")
    if du["status"] in ("won", "lost", "warning_closed"):
        raise invalid(CLOSED, param="dispute")
    if du["status"] not in OPEN:
        raise invalid(ALREADY_SUBMITTED, param="dispute")
    _close(emu, du, "warning_closed" if du["status"] == "warning_needs_response" else "lost")
    return render(du)


def retrieve_dispute(req: Request) -> dict[str, Any]:
    req.emu.sweep()
    return render(get_object(req.emu, "dispute", req.args["dispute"], "dispute", "dispute"))


def list_disputes(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    emu.sweep()
    objs = emu.store.all("dispute")
    for name in ("charge", "payment_intent"):
        value = as_str(p, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, p), "/v1/disputes")


def list_efws(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("radar.early_fraud_warning")
    for name in ("charge", "payment_intent"):
        value = as_str(req.params, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, req.params), "/v1/radar/early_fraud_warnings")


route("GET", "/v1/disputes", list_disputes)
route("GET", "/v1/disputes/{dispute}", retrieve_dispute)
route("POST", "/v1/disputes/{dispute}", update_dispute)
route("POST", "/v1/disputes/{dispute}/close", close_dispute)
route("GET", "/v1/radar/early_fraud_warnings", list_efws)
route(
    "GET",
    "/v1/radar/early_fraud_warnings/{early_fraud_warning}",
    lambda req: render(
        get_object(
            req.emu,
            "radar.early_fraud_warning",
            req.args["early_fraud_warning"],
            "early fraud warning",
            "early_fraud_warning",
        )
    ),
)
