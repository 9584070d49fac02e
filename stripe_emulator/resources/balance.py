"""The balance and its ledger: balance transactions with fees, pending → available, `GET /v1/balance`.

Every money movement is a `txn_` balance transaction with `amount`, `fee`, `net = amount − fee`,
`available_on` and `status`. Charges start `pending` and become `available` when the emulator clock
passes `available_on` (the account's `available_days` later, at 00:00 UTC); the bypass-pending test
cards, refunds, disputes and payouts are `available` at once. `GET /v1/balance` sums `net` per
currency and status, so it always agrees with the transactions.

Fees follow Stripe's standard UK pricing by card country (stripe.com/gb/pricing): UK cards
1.5% + 20p, EEA cards 2.5% + 20p, other cards 3.25% + 20p; the fixed part in other currencies
is the table below. Integer arithmetic, half up.
"""

from __future__ import annotations

from typing import Any

from ..errors import invalid
from ..server import Request
from ..state import Emulator, render
from .common import as_str, created_filter, get_object, list_response, route
from .money import ZERO_DECIMAL

DAY = 86400
ACCOUNT_CURRENCY = "gbp"  # the emulated account is a UK account

EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IS",
        "IE",
        "IT",
        "LV",
        "LI",
        "LT",
        "LU",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
# Basis points of the amount, by where the card was issued.
FEE_BPS_UK, FEE_BPS_EEA, FEE_BPS_INTERNATIONAL = 150, 250, 325
# The fixed part of the fee, in minor units of the charge currency (20p in GBP).
FIXED_FEE: dict[str, int] = {"gbp": 20, "eur": 25, "usd": 30, "chf": 30, "jpy": 30}
DEFAULT_FIXED_FEE, DEFAULT_FIXED_FEE_ZERO_DECIMAL = 20, 30
# Stripe's dispute fee for UK accounts (£20), by currency.
DISPUTE_FEE: dict[str, int] = {"gbp": 2000, "eur": 2000, "usd": 2000, "jpy": 3000}
PROCESSING_FEE_DESCRIPTION = "Stripe processing fees"
DISPUTE_FEE_DESCRIPTION = "Dispute fee"

PAYOUT_FILTER_MANUAL = "Balance transaction history can only be filtered on automatic transfers, not manual."


def fee_bps(card_country: str | None) -> int:
    if card_country == "GB":
        return FEE_BPS_UK
    if card_country in EEA:
        return FEE_BPS_EEA
    return FEE_BPS_INTERNATIONAL


def stripe_fee(amount: int, cur: str, card_country: str | None = None) -> int:
    """Stripe's processing fee on a charge of `amount` minor units (UK standard pricing)."""
    fixed = FIXED_FEE.get(cur, DEFAULT_FIXED_FEE_ZERO_DECIMAL if cur in ZERO_DECIMAL else DEFAULT_FIXED_FEE)
    return (amount * fee_bps(card_country) + 5000) // 10000 + fixed


def dispute_fee(cur: str) -> int:
    return DISPUTE_FEE.get(cur, 2000)


def fee_line(amount: int, cur: str, description: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "application": None,
        "currency": cur,
        "description": description,
        "type": "stripe_fee",
    }


def start_of_day(timestamp: int) -> int:
    return timestamp - timestamp % DAY


def new_balance_transaction(
    emu: Emulator,
    amount: int,
    cur: str,
    source: str,
    kind: str,
    category: str,
    description: str | None,
    fee: int = 0,
    *,
    available_on: int | None = None,
    fee_description: str = PROCESSING_FEE_DESCRIPTION,
    created: int | None = None,
) -> dict[str, Any]:
    """Record a balance transaction; `available_on=None` makes it available at once."""
    now = emu.now() if created is None else created
    txn = emu.base_object(
        "txn",
        "balance_transaction",
        amount=amount,
        available_on=now if available_on is None else available_on,
        balance_type="payments",
        created=now,
        currency=cur,
        description=description,
        exchange_rate=None,
        fee=fee,
        fee_details=[fee_line(fee, cur, fee_description)] if fee else [],
        net=amount - fee,
        reporting_category=category,
        source=source,
        status="pending" if available_on is not None and available_on > now else "available",
        type=kind,
    )
    txn.pop("livemode", None)  # balance transactions carry no livemode field
    emu.store.put(txn)
    index(emu, txn)
    start_payout_schedule(emu, now)
    return txn


def start_payout_schedule(emu: Emulator, now: int) -> None:
    """Automatic payouts run at each 00:00 UTC from the day the account first has money."""
    if "next_payout_at" not in emu.store.meta:
        emu.store.set_meta("next_payout_at", start_of_day(now) + DAY)


def charge_transaction(
    emu: Emulator, ch: dict[str, Any], amount: int, *, bypass_pending: bool
) -> dict[str, Any]:
    """The `type=charge` transaction of a captured charge: fee by card country, funds pending."""
    country = (ch.get("payment_method_details") or {}).get("card", {}).get("country")
    now = emu.now()
    available_on = None if bypass_pending else start_of_day(now) + emu.money.available_days * DAY
    return new_balance_transaction(
        emu,
        amount,
        ch["currency"],
        ch["id"],
        "charge",
        "charge",
        ch.get("description"),
        stripe_fee(amount, ch["currency"], country),
        available_on=available_on,
    )


# indexes: which transactions are pending, which are available and not yet paid out ---------------


def _build_indexes(emu: Emulator) -> None:
    pending: dict[str, None] = {}
    unpaid: dict[str, None] = {}
    for txn_id in emu.store.by_kind.get("balance_transaction", {}):
        txn = emu.store.objects[txn_id]
        if txn["status"] == "pending":
            pending[txn_id] = None
        elif not txn.get("_payout"):
            unpaid[txn_id] = None
    emu.pending_txns, emu.unpaid_txns = pending, unpaid


def index(emu: Emulator, txn: dict[str, Any]) -> None:
    if emu.pending_txns is None or emu.unpaid_txns is None:
        _build_indexes(emu)
        return
    if txn["status"] == "pending":
        emu.pending_txns[txn["id"]] = None
    elif not txn.get("_payout"):
        emu.unpaid_txns[txn["id"]] = None


def pending_ids(emu: Emulator) -> dict[str, None]:
    if emu.pending_txns is None:
        _build_indexes(emu)
    assert emu.pending_txns is not None
    return emu.pending_txns


def unpaid_ids(emu: Emulator) -> dict[str, None]:
    if emu.unpaid_txns is None:
        _build_indexes(emu)
    assert emu.unpaid_txns is not None
    return emu.unpaid_txns


def settle(emu: Emulator, at: int) -> int:
    """Make every pending transaction whose `available_on` has passed available; returns how many."""
    pending = pending_ids(emu)
    due = [i for i in pending if emu.store.objects[i]["available_on"] <= at]
    unpaid = unpaid_ids(emu)
    for txn_id in due:
        txn = emu.store.objects[txn_id]
        txn["status"] = "available"
        emu.store.put(txn)
        del pending[txn_id]
        unpaid[txn_id] = None
    return len(due)


# the balance ----------------------------------------------------------------------------------


def balance(emu: Emulator) -> dict[str, Any]:
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for txn_id in emu.store.by_kind.get("balance_transaction", {}):
        txn = emu.store.objects[txn_id]
        bucket = pending if txn["status"] == "pending" else available
        bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + txn["net"]
    currencies = sorted(set(available) | set(pending) | {ACCOUNT_CURRENCY})

    def amounts(bucket: dict[str, int]) -> list[dict[str, Any]]:
        return [
            {"amount": bucket.get(cur, 0), "currency": cur, "source_types": {"card": bucket.get(cur, 0)}}
            for cur in currencies
        ]

    return {
        "object": "balance",
        "available": amounts(available),
        "connect_reserved": [{"amount": 0, "currency": cur} for cur in currencies],
        "livemode": emu.ctx.livemode,
        "pending": amounts(pending),
    }


def retrieve_balance(req: Request) -> dict[str, Any]:
    req.emu.sweep()
    return balance(req.emu)


# the API ----------------------------------------------------------------------------------------


def list_balance_transactions(req: Request) -> dict[str, Any]:
    from . import payouts

    emu, p = req.emu, req.params
    emu.sweep()
    payout_id = as_str(p, "payout")
    if payout_id:
        po = get_object(emu, "payout", payout_id, "payout", "payout")
        if not po.get("automatic"):
            raise invalid(PAYOUT_FILTER_MANUAL, param="payout")
        if not any(name in p for name in ("source", "type", "currency", "created")):
            return payouts.list_payout_transactions(req, po)
        objs = [emu.store.objects[i] for i in po["_txns"]]
    else:
        objs = emu.store.all("balance_transaction")
    for name in ("source", "type", "currency"):
        value = as_str(p, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, p), "/v1/balance_transactions")


def retrieve_balance_transaction(req: Request) -> dict[str, Any]:
    return render(get_object(req.emu, "balance_transaction", req.args["id"], "balance transaction"))


route("GET", "/v1/balance", retrieve_balance)
route("GET", "/v1/balance_transactions", list_balance_transactions)
route("GET", "/v1/balance_transactions/{id}", retrieve_balance_transaction)
