"""Payouts: automatic daily payouts on the emulator clock, their state machine and their ledger.

At each 00:00 UTC that the clock passes (`payout_schedule=daily`), the funds available at that
moment are paid out per currency: one automatic payout takes every available balance
transaction not yet paid out, and gets its own `type=payout` transaction (`net = −amount`).
`GET /v1/balance_transactions?payout=po_…` lists exactly those plus its own, newest first.

    pending → in_transit (payout_in_transit_seconds later; reconciliation completed)
            → paid (at arrival_date)
    any of them → failed on demand (`POST /_emulator/payouts/{po}/fail`), with a
            `payout_failure` transaction that returns the funds to the available balance.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import invalid, no_such
from ..server import Request
from ..state import Emulator, render
from . import balance
from .common import (
    apply_metadata,
    as_int,
    as_str,
    created_filter,
    currency,
    get_object,
    list_response,
    route,
)

FAILURE_MESSAGES: dict[str, str] = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "bank_account_restricted": "The bank account has restrictions on either the type or number of "
    "payouts allowed.",
    "could_not_process": "The bank could not process this payout.",
    "declined": "The bank has declined this transfer. Please contact the bank before retrying.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "invalid_account_number": "The routing number seems correct, but the account number is invalid.",
    "no_account": "The bank account details on file are probably incorrect. No bank account could be "
    "located with those details.",
}
BALANCE_INSUFFICIENT = (
    "You have insufficient funds in your Stripe account for this transfer. Your card balance is too low. "
    "You can use the /v1/balance endpoint to view your Stripe balance (for more details, see "
    "stripe.com/docs/api#balance)."
)
AUTOMATIC_PAYOUTS_ON = (
    "You cannot create manual payouts while automatic payouts are enabled for your account. "
    "Set the payout schedule to manual first."
)
DESTINATION = "ba_emulatorGB00000000000000"


# the clock ----------------------------------------------------------------------------------------


def sweep(emu: Emulator) -> None:
    """Bring balances and payouts up to the emulator's now, boundary by boundary, in time order."""
    with emu.lock:
        now = emu.now()
        next_at = emu.store.meta.get("next_payout_at")
        if next_at is None:
            return  # no money yet: the schedule starts with the first balance transaction
        while next_at <= now:
            _progress(emu, next_at)
            if balance.settle(emu, next_at):
                emu.emit("balance.available", balance.balance(emu))
            if emu.money.payout_schedule == "daily":
                run(emu, at=next_at)
            next_at += balance.DAY
            emu.store.set_meta("next_payout_at", next_at)
        _progress(emu, now)
        if balance.settle(emu, now):
            emu.emit("balance.available", balance.balance(emu))


def run(emu: Emulator, *, at: int | None = None, only: str | None = None) -> list[dict[str, Any]]:
    """Pay out the available, not yet paid out funds of each currency (those with a positive sum)."""
    at = emu.now() if at is None else at
    by_currency: dict[str, list[str]] = {}
    for txn_id in balance.unpaid_ids(emu):
        txn = emu.store.objects[txn_id]
        if txn["created"] <= at:  # a payout computed late still pays only what existed at its time
            by_currency.setdefault(txn["currency"], []).append(txn_id)
    made = []
    for cur, ids in sorted(by_currency.items()):
        if only is not None and cur != only:
            continue
        total = sum(emu.store.objects[i]["net"] for i in ids)
        if total <= 0:
            continue  # nothing to pay (a negative balance waits for more charges)
        made.append(_create_automatic(emu, cur, total, ids, at))
    return made


def _new_payout(emu: Emulator, cur: str, amount: int, at: int, *, automatic: bool) -> dict[str, Any]:
    return emu.base_object(
        "po",
        "payout",
        amount=amount,
        application_fee=None,
        application_fee_amount=None,
        arrival_date=balance.start_of_day(at) + emu.money.payout_arrival_days * balance.DAY,
        automatic=automatic,
        balance_transaction=None,
        created=at,
        currency=cur,
        description="STRIPE PAYOUT",
        destination=DESTINATION,
        failure_balance_transaction=None,
        failure_code=None,
        failure_message=None,
        metadata={},
        method="standard",
        original_payout=None,
        payout_method=None,
        reconciliation_status="in_progress" if automatic else "not_applicable",
        reversed_by=None,
        source_type="card",
        statement_descriptor=None,
        status="pending",
        trace_id={"status": "pending", "value": None},
        type="bank_account",
        _in_transit_at=at + emu.money.payout_in_transit_seconds,
        _txns=[],
    )


def _create_automatic(emu: Emulator, cur: str, amount: int, ids: list[str], at: int) -> dict[str, Any]:
    po = _new_payout(emu, cur, amount, at, automatic=True)
    own = balance.new_balance_transaction(
        emu, -amount, cur, po["id"], "payout", "payout", "STRIPE PAYOUT", created=at
    )
    unpaid = balance.unpaid_ids(emu)
    unpaid.pop(own["id"], None)
    for txn_id in ids:
        txn = emu.store.objects[txn_id]
        txn["_payout"] = po["id"]
        emu.store.put(txn)  # written through with --data, so a restart keeps the payout's ledger
        unpaid.pop(txn_id, None)
    own["_payout"] = po["id"]
    emu.store.put(own)
    # Newest first, as Stripe lists them: the payout's own transaction, then its components.
    ordered = sorted(ids, key=lambda i: emu.store.seq[i], reverse=True)
    po["_txns"] = [own["id"], *ordered]
    po["balance_transaction"] = own["id"]
    emu.store.put(po)
    emu.emit("payout.created", po)
    return po


def _progress(emu: Emulator, at: int) -> None:
    """Move payouts along: in_transit after a while, paid at arrival_date."""
    for po in list(_open_payouts(emu)):
        if po["status"] == "pending" and at >= po["_in_transit_at"]:
            prev: dict[str, Any] = {"status": "pending"}
            po["status"] = "in_transit"
            reconciled = po["automatic"] and po["reconciliation_status"] == "in_progress"
            if reconciled:
                prev["reconciliation_status"] = "in_progress"
                po["reconciliation_status"] = "completed"
            emu.store.put(po)
            emu.emit("payout.updated", po, prev)
            if reconciled:
                emu.emit("payout.reconciliation_completed", po)
        if po["status"] == "in_transit" and at >= po["arrival_date"]:
            prev = {"status": "in_transit", "trace_id": copy.deepcopy(po["trace_id"])}
            po["status"] = "paid"
            po["trace_id"] = {"status": "supported", "value": "EMU" + po["id"][-12:].upper()}
            emu.store.put(po)
            emu.emit("payout.updated", po, prev)
            emu.emit("payout.paid", po)


def _open_payouts(emu: Emulator) -> list[dict[str, Any]]:
    ids = emu.store.by_kind.get("payout", {})
    return [emu.store.objects[i] for i in ids if emu.store.objects[i]["status"] in ("pending", "in_transit")]


def fail(emu: Emulator, po_id: str, failure_code: str) -> dict[str, Any]:
    """Fail a payout as the bank does: `payout.updated` + `payout.failed`, funds back in the balance."""
    po = get_object(emu, "payout", po_id, "payout", "payout")
    if po["status"] in ("failed", "canceled"):
        raise invalid(f"Payout {po_id} has already {po['status']}.", param="payout")
    txn = balance.new_balance_transaction(
        emu,
        po["amount"],
        po["currency"],
        po["id"],
        "payout_failure",
        "payout_reversal",
        "STRIPE PAYOUT FAILURE",
    )
    prev = {
        "status": po["status"],
        "failure_code": None,
        "failure_message": None,
        "failure_balance_transaction": None,
    }
    po["status"] = "failed"
    po["failure_code"] = failure_code
    po["failure_message"] = FAILURE_MESSAGES.get(failure_code, "The payout failed.")
    po["failure_balance_transaction"] = txn["id"]
    emu.store.put(po)
    emu.emit("payout.updated", po, prev)
    emu.emit("payout.failed", po)
    return po


# listing a payout's transactions fast -----------------------------------------------------------


def list_payout_transactions(req: Request, po: dict[str, Any]) -> dict[str, Any]:
    """`?payout=` pages in O(page): a per-payout position index instead of scanning 100,000 ids."""
    emu, p = req.emu, req.params
    ids: list[str] = po["_txns"]
    positions = emu.payout_positions.get(po["id"])
    if positions is None or len(positions) != len(ids):
        positions = {txn_id: n for n, txn_id in enumerate(ids)}
        emu.payout_positions[po["id"]] = positions
    limit = as_int(p, "limit", default=10)
    assert limit is not None
    if not 1 <= limit <= 100:
        raise invalid(
            "This value must be greater than or equal to 1 and less than or equal to 100.", param="limit"
        )
    starting_after, ending_before = as_str(p, "starting_after"), as_str(p, "ending_before")
    if starting_after:
        if starting_after not in positions:
            raise no_such("object", starting_after, "starting_after")
        start = positions[starting_after] + 1
        end = start + limit
    elif ending_before:
        if ending_before not in positions:
            raise no_such("object", ending_before, "ending_before")
        end = positions[ending_before]
        start = max(0, end - limit)
    else:
        start, end = 0, limit
    page = ids[start:end]
    has_more = end < len(ids) if not ending_before else start > 0
    data = [render(emu.store.objects[i]) for i in page]
    return {"object": "list", "data": data, "has_more": has_more, "url": "/v1/balance_transactions"}


# the API ----------------------------------------------------------------------------------------


def create_payout(req: Request) -> dict[str, Any]:
    """A manual payout (schedule `manual` only): its own transaction; no `?payout=` listing."""
    emu, p = req.emu, req.params
    emu.sweep()
    amount = as_int(p, "amount", required=True)
    cur = currency(p)
    assert amount is not None and cur is not None
    if amount <= 0:
        raise invalid("Amount must be greater than 0.", code="amount_too_small", param="amount")
    if emu.money.payout_schedule != "manual":
        raise invalid(AUTOMATIC_PAYOUTS_ON, param="amount")
    available = sum(
        emu.store.objects[i]["net"]
        for i in balance.unpaid_ids(emu)
        if emu.store.objects[i]["currency"] == cur
    )
    if amount > available:
        raise invalid(BALANCE_INSUFFICIENT, code="balance_insufficient", param="amount")
    po = _new_payout(emu, cur, amount, emu.now(), automatic=False)
    po["description"] = as_str(p, "description")
    po["statement_descriptor"] = as_str(p, "statement_descriptor")
    apply_metadata(po, p)
    own = balance.new_balance_transaction(emu, -amount, cur, po["id"], "payout", "payout", po["description"])
    po["balance_transaction"] = own["id"]
    po["_txns"] = [own["id"]]
    emu.store.put(po)
    emu.emit("payout.created", po)
    return render(po)


def retrieve_payout(req: Request) -> dict[str, Any]:
    req.emu.sweep()
    return render(get_object(req.emu, "payout", req.args["payout"], "payout", "payout"))


def update_payout(req: Request) -> dict[str, Any]:
    emu = req.emu
    po = get_object(emu, "payout", req.args["payout"], "payout", "payout")
    prev: dict[str, Any] = {}
    apply_metadata(po, req.params, prev)
    emu.store.put(po)
    if prev:
        emu.emit("payout.updated", po, prev)
    return render(po)


def list_payouts(req: Request) -> dict[str, Any]:
    emu, p = req.emu, req.params
    emu.sweep()
    objs = emu.store.all("payout")
    for name in ("status", "destination"):
        value = as_str(p, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    objs = created_filter(created_filter(objs, p), p, "arrival_date")
    return list_response(req, objs, "/v1/payouts")


route("POST", "/v1/payouts", create_payout)
route("GET", "/v1/payouts", list_payouts)
route("GET", "/v1/payouts/{payout}", retrieve_payout)
route("POST", "/v1/payouts/{payout}", update_payout)


# bulk seeding (benchmarks and reconciliation tests) -----------------------------------------------


def seed(
    emu: Emulator, *, count: int, cur: str, amount: int, card_country: str = "GB", pay_out: bool = True
) -> dict[str, Any]:
    """`count` available charge transactions of `amount` each, paid out at once in one payout
    (`pay_out=False`: left in the available balance for the next payout run).

    Their charges are synthesized on demand (retrieve and `expand[]=data.source` work; they are
    not in `GET /v1/charges` and cannot be changed), so 100,000 of them take seconds and little
    memory. Any other available funds in `cur` join the same payout, as they would at Stripe.
    """
    if count < 1 or amount < 1:
        raise invalid("count and amount must be positive", param="count")
    if cur not in emu.seed_templates:
        emu.seed_templates[cur] = _charge_template(emu, cur, card_country)
    emu.store.synthesize = lambda obj_id, args: _synthesize_charge(emu, obj_id, args)
    fee = balance.stripe_fee(amount, cur, card_country)
    fee_details = [balance.fee_line(fee, cur, balance.PROCESSING_FEE_DESCRIPTION)]
    now = emu.now()
    unpaid = balance.unpaid_ids(emu)
    store = emu.store
    for _ in range(count):
        ch_id, txn_id = emu.new_id("ch"), emu.new_id("txn")
        store.put(
            {
                "id": txn_id,
                "object": "balance_transaction",
                "amount": amount,
                "available_on": now,
                "balance_type": "payments",
                "created": now,
                "currency": cur,
                "description": None,
                "exchange_rate": None,
                "fee": fee,
                "fee_details": fee_details,
                "net": amount - fee,
                "reporting_category": "charge",
                "source": ch_id,
                "status": "available",
                "type": "charge",
            }
        )
        unpaid[txn_id] = None
        store.synthetic[ch_id] = (txn_id, amount, cur, now)
    balance.start_payout_schedule(emu, now)
    if not pay_out:
        return {"payout": None, "amount": count * (amount - fee), "balance_transactions": count}
    made = run(emu, only=cur)
    if not made:
        raise invalid(f"The available {cur} balance is not positive: nothing to pay out.", param="amount")
    po = made[0]
    return {"payout": po["id"], "amount": po["amount"], "balance_transactions": len(po["_txns"])}


def _charge_template(emu: Emulator, cur: str, card_country: str) -> dict[str, Any]:
    from . import charges, payment_methods

    pm = payment_methods.resolve(emu, "pm_card_gb" if card_country == "GB" else "pm_card_visa")
    stub: dict[str, Any] = {"id": None, "amount": 0, "currency": cur, "metadata": {}}
    ch = charges.new_charge(emu, stub, pm)
    emu.store.delete(ch["id"])
    ch.update(captured=True, paid=True, status="succeeded", receipt_url=None)
    return ch


def _synthesize_charge(emu: Emulator, ch_id: str, args: tuple[Any, ...]) -> dict[str, Any]:
    txn_id, amount, cur, created = args
    template = emu.seed_templates[cur]
    ch = dict(template)  # nested parts are shared with the template, which nothing changes
    ch.update(
        id=ch_id,
        amount=amount,
        amount_captured=amount,
        balance_transaction=txn_id,
        created=created,
        currency=cur,
    )
    card = {**template["payment_method_details"]["card"], "amount_authorized": amount}
    ch["payment_method_details"] = {**template["payment_method_details"], "card": card}
    return ch
