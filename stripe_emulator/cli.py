"""Like the Stripe CLI, for the emulator: `trigger` and `resend`.

    python -m stripe_emulator trigger payment_intent.succeeded [--api URL] [--api-key sk_test_…]
    python -m stripe_emulator resend evt_… [--webhook-endpoint we_…] [--api URL]

`trigger` makes the API requests behind a common event against a running emulator (as the Stripe
CLI's fixtures do against Stripe), so the emulator creates the objects and sends the event, and
every event the change brings, to its webhook endpoints; it waits for the deliveries and prints
one JSON line: the objects made and the events of the asked type. `resend` delivers an event
again (to every enabled endpoint that takes its type, or to the one named), signed anew.
Exit status 2 for an event it cannot make (listed by `trigger --help`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from .wire import encode

DEFAULT_API = "http://127.0.0.1:12111"
DEFAULT_KEY = "sk_test_emulator_cli"
TWO_DAYS = 2 * 86400
A_MONTH_AND_A_MINUTE = 31 * 86400 + 60


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base.rstrip("/"), key

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        control = path.startswith("/_emulator")
        body = None
        headers = {} if control else {"Authorization": f"Bearer {self.key}"}
        if method == "POST":
            if control:
                body = json.dumps(params or {}).encode()
                headers["Content-Type"] = "application/json"
            else:
                body = urlencode(encode(params or {})).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif params:
            path += "?" + urlencode(encode(params))
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the emulator's URL)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def ok(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        status, body = self.call(method, path, params)
        if status >= 400:
            raise SystemExit(f"{method} {path} → {status}: {json.dumps(body)}")
        return body


def _payment(api: Api, card: str, *, allow_decline: bool = False) -> dict[str, Any]:
    params = {
        "amount": 2000,
        "currency": "gbp",
        "payment_method": card,
        "payment_method_types": ["card"],
        "confirm": True,
        "description": "(created by python -m stripe_emulator trigger)",
    }
    status, body = api.call("POST", "/v1/payment_intents", params)
    if status == 402 and allow_decline:
        return dict(body["error"]["payment_intent"])
    if status >= 400:
        raise SystemExit(f"POST /v1/payment_intents → {status}: {json.dumps(body)}")
    return dict(body)


def _paid(api: Api) -> dict[str, Any]:
    pi = _payment(api, "pm_card_visa")
    return {"payment_intent": pi["id"], "charge": pi["latest_charge"]}


def _failed(api: Api) -> dict[str, Any]:
    pi = _payment(api, "pm_card_chargeDeclined", allow_decline=True)
    return {"payment_intent": pi["id"], "charge": pi["latest_charge"]}


def _refunded(api: Api) -> dict[str, Any]:
    made = _paid(api)
    refund = api.ok("POST", "/v1/refunds", {"payment_intent": made["payment_intent"]})
    return {**made, "refund": refund["id"]}


def _disputed(api: Api) -> dict[str, Any]:
    pi = _payment(api, "pm_card_createDispute")
    disputes = api.ok("GET", "/v1/disputes", {"payment_intent": pi["id"]})["data"]
    return {"payment_intent": pi["id"], "charge": pi["latest_charge"], "dispute": disputes[0]["id"]}


def _paid_out(api: Api) -> dict[str, Any]:
    pi = _payment(api, "pm_card_bypassPending")  # available at once, so it can be paid out now
    payouts = api.ok("POST", "/_emulator/payouts/run")["payouts"]
    return {"payment_intent": pi["id"], "payout": payouts[0] if payouts else None}


def _payout_paid(api: Api) -> dict[str, Any]:
    made = _paid_out(api)
    api.ok("POST", "/_emulator/clock/advance", {"seconds": TWO_DAYS})  # past its arrival date
    return made


def _checkout_completed(api: Api) -> dict[str, Any]:
    session = api.ok(
        "POST",
        "/v1/checkout/sessions",
        {
            "mode": "payment",
            "success_url": "https://example.com/success",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "gbp",
                        "unit_amount": 2000,
                        "product_data": {"name": "T-shirt"},
                    },
                }
            ],
        },
    )
    paid = api.ok("POST", f"/_emulator/checkout/sessions/{session['id']}/pay", {"card": "4242424242424242"})
    return {"checkout_session": session["id"], "payment_intent": (paid.get("payment_intent") or {}).get("id")}


def _renewal_failed(api: Api) -> dict[str, Any]:
    """A monthly subscription paid with 4242, whose saved card then declines every charge; the
    clock moves past the renewal, which fails (`invoice.payment_failed`, the subscription past due)."""
    price = api.ok(
        "POST",
        "/v1/prices",
        {
            "currency": "gbp",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
            "product_data": {"name": "(created by python -m stripe_emulator trigger)"},
        },
    )
    customer = api.ok("POST", "/v1/customers", {"email": "renewal@example.com"})
    subscription = api.ok(
        "POST",
        "/v1/subscriptions",
        {
            "customer": customer["id"],
            "items": [{"price": price["id"]}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        },
    )
    secret = subscription["latest_invoice"]["confirmation_secret"]["client_secret"]
    api.ok(
        "POST",
        f"/v1/payment_intents/{secret.split('_secret_')[0]}/confirm",
        {"payment_method": "pm_card_visa"},
    )
    card = api.ok(
        "POST", "/v1/payment_methods/pm_card_chargeCustomerFail/attach", {"customer": customer["id"]}
    )
    api.ok("POST", f"/v1/subscriptions/{subscription['id']}", {"default_payment_method": card["id"]})
    api.ok("POST", "/_emulator/clock/advance", {"seconds": A_MONTH_AND_A_MINUTE})
    renewed = api.ok("GET", f"/v1/subscriptions/{subscription['id']}")
    return {
        "customer": customer["id"],
        "subscription": subscription["id"],
        "invoice": renewed["latest_invoice"],
    }


FIXTURES: dict[str, Callable[[Api], dict[str, Any]]] = {
    "payment_intent.succeeded": _paid,
    "charge.succeeded": _paid,
    "payment_intent.payment_failed": _failed,
    "charge.failed": _failed,
    "charge.refunded": _refunded,
    "refund.created": _refunded,
    "charge.dispute.created": _disputed,
    "payout.created": _paid_out,
    "payout.paid": _payout_paid,
    "checkout.session.completed": _checkout_completed,
    "invoice.payment_failed": _renewal_failed,
}


def trigger(api: Api, event_type: str) -> dict[str, Any]:
    if event_type not in FIXTURES:
        raise KeyError(f"no fixture for {event_type}; one of: {', '.join(sorted(FIXTURES))}")
    before = {e["id"] for e in api.ok("GET", "/v1/events", {"limit": 100, "type": event_type})["data"]}
    objects = FIXTURES[event_type](api)
    api.ok("POST", "/_emulator/deliveries/wait", {"timeout": 10})
    listed = api.ok("GET", "/v1/events", {"limit": 100, "type": event_type})["data"]
    return {
        "trigger": event_type,
        "objects": objects,
        "events": [e["id"] for e in listed if e["id"] not in before],
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m stripe_emulator", description=__doc__.split("\n\n")[0])
    ap.add_argument("--api", default=DEFAULT_API, help=f"the running emulator (default {DEFAULT_API})")
    ap.add_argument("--api-key", default=DEFAULT_KEY, help="a secret key the emulator accepts")
    sub = ap.add_subparsers(dest="command", required=True)
    fire = sub.add_parser(
        "trigger", help="create the objects behind an event: " + ", ".join(sorted(FIXTURES))
    )
    fire.add_argument("event", help="event type, e.g. payment_intent.succeeded")
    again = sub.add_parser("resend", help="deliver an event again")
    again.add_argument("event_id")
    again.add_argument("--webhook-endpoint", default=None, help="only to this endpoint (we_…)")
    args = ap.parse_args(argv)
    api = Api(args.api, args.api_key)
    if args.command == "trigger":
        try:
            print(json.dumps(trigger(api, args.event)))
        except KeyError as error:
            print(f"cannot trigger {args.event}: {error.args[0]}", file=sys.stderr)
            return 2
        return 0
    body = {"endpoint": args.webhook_endpoint} if args.webhook_endpoint else {}
    status, answer = api.call("POST", f"/_emulator/events/{args.event_id}/resend", body)
    print(json.dumps(answer))
    return 0 if status < 400 else 1
