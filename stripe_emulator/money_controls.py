"""Control endpoints for the money after the payment (`/_emulator/account`, payouts, disputes).

Apart from `control.py` so that each group of controls stays small; `control` imports this module.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .resources import billing, disputes, payouts
from .server import Request, register
from .state import render


def account(req: Request) -> dict[str, Any]:
    if req.method == "POST":
        try:
            with req.emu.lock:
                req.emu.money.update(req.json())
                req.emu.store.set_meta("money_settings", req.emu.money.describe())
        except (ValueError, TypeError) as exc:
            raise invalid(str(exc)) from None
    return req.emu.money.describe()


def run_payouts(req: Request) -> dict[str, Any]:
    with req.emu.lock:
        req.emu.sweep()
        made = payouts.run(req.emu)
    return {"payouts": [po["id"] for po in made]}


def fail_payout(req: Request) -> dict[str, Any]:
    code = str(req.json().get("failure_code") or "account_closed")
    with req.emu.lock:
        return render(payouts.fail(req.emu, req.args["po"], code))


def seed_payout(req: Request) -> dict[str, Any]:
    body = req.json()
    try:
        count, amount = int(body.get("count", 0)), int(body.get("amount", 1000))
    except (TypeError, ValueError):
        raise invalid("count and amount must be integers", param="count") from None
    cur = str(body.get("currency", "gbp")).lower()
    with req.emu.lock:
        req.emu.sweep()
        return payouts.seed(
            req.emu, count=count, cur=cur, amount=amount, pay_out=bool(body.get("pay_out", True))
        )


def open_dispute(req: Request) -> dict[str, Any]:
    body = req.json()
    amount = body.get("amount")
    with req.emu.lock:
        du = disputes.open_on_demand(
            req.emu,
            req.args["ch"],
            reason=str(body.get("reason") or "fraudulent"),
            inquiry=bool(body.get("inquiry", False)),
            amount=None if amount is None else int(amount),
        )
        return render(du)


def setup_intent_3ds(req: Request) -> dict[str, Any]:
    outcome = str(req.json().get("outcome") or "complete")
    with req.emu.lock:
        return render(billing.setup_intent_authenticate(req.emu, req.args["seti"], outcome))


register("POST", r"/_emulator/setup_intents/(?P<seti>seti_\w+)/authenticate", setup_intent_3ds)
register("GET", "/_emulator/account", account)
register("POST", "/_emulator/account", account)
register("POST", "/_emulator/payouts/run", run_payouts)
register("POST", "/_emulator/payouts/seed", seed_payout)
register("POST", r"/_emulator/payouts/(?P<po>po_\w+)/fail", fail_payout)
register("POST", r"/_emulator/charges/(?P<ch>ch_\w+)/dispute", open_dispute)
