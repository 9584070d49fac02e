"""Balance transactions: the account's ledger of charges, refunds and (later) payouts and disputes."""

from __future__ import annotations

from typing import Any

from ..server import Request
from ..state import Emulator, render
from .common import (
    as_str,
    created_filter,
    get_object,
    list_response,
    route,
)
from .money import ZERO_DECIMAL


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


def list_balance_transactions(req: Request) -> dict[str, Any]:
    objs = req.emu.store.all("balance_transaction")
    for name in ("source", "type", "currency"):
        value = as_str(req.params, name)
        if value:
            objs = [o for o in objs if o.get(name) == value]
    return list_response(req, created_filter(objs, req.params), "/v1/balance_transactions")


route("GET", "/v1/balance_transactions", list_balance_transactions)
route(
    "GET",
    "/v1/balance_transactions/{id}",
    lambda req: render(get_object(req.emu, "balance_transaction", req.args["id"], "balance transaction")),
)
