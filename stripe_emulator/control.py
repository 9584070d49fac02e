"""Control endpoints (`/_emulator/*`, no auth) and the 3-D Secure test page."""

from __future__ import annotations

import html as html_lib
import json
from typing import Any
from urllib.parse import urlencode

from . import money_controls  # noqa: F401 (registers the balance, payout and dispute controls)
from .errors import invalid
from .resources import checkout, events, money, payment_intents
from .server import Request, Response, html, redirect, register
from .state import render


def reset(req: Request) -> dict[str, Any]:
    req.emu.reset()
    return {"reset": True}


def get_faults(req: Request) -> dict[str, Any]:
    return req.emu.faults.describe()


def set_faults(req: Request) -> dict[str, Any]:
    try:
        req.emu.faults.configure(req.json())
    except (ValueError, TypeError, KeyError) as exc:
        raise invalid(str(exc)) from None
    return req.emu.faults.describe()


def clear_faults(req: Request) -> dict[str, Any]:
    req.emu.faults.clear()
    return req.emu.faults.describe()


def get_rate_limits(req: Request) -> dict[str, Any]:
    return req.emu.rate_limits.describe()


def set_rate_limits(req: Request) -> dict[str, Any]:
    try:
        req.emu.rate_limits.configure(req.json())
    except (ValueError, TypeError) as exc:
        raise invalid(str(exc)) from None
    return req.emu.rate_limits.describe()


def resend_event(req: Request) -> dict[str, Any]:
    """Deliver an event again, like the Dashboard's (and the Stripe CLI's) resend: to every
    enabled endpoint that takes its type, or to `endpoint` only."""
    wanted = req.json().get("endpoint")
    with req.emu.lock:
        event = req.emu.store.get(req.args["evt"], "event")
        if event is None:
            raise invalid(f"No such event: '{req.args['evt']}'", param="id")
        endpoints = [
            we["id"]
            for we in req.emu.store.all("webhook_endpoint")
            if we.get("status") == "enabled"
            and ("*" in we["enabled_events"] or event["type"] in we["enabled_events"])
            and (wanted is None or we["id"] == wanted)
        ]
        if wanted and not endpoints:
            raise invalid(f"No enabled endpoint {wanted} takes {event['type']}", param="endpoint")
        for we_id in endpoints:
            event.setdefault("_deliveries", {})[we_id] = "pending"
        req.emu.store.put(event)
        req.emu.webhooks.enqueue(event, endpoints)
    return {"event": event["id"], "type": event["type"], "endpoints": endpoints}


def clock(req: Request) -> dict[str, Any]:
    return {"now": req.emu.now(), "offset": req.emu.clock.offset}


def advance(req: Request) -> dict[str, Any]:
    body = req.json()
    seconds = float(body.get("seconds", 0))
    if seconds < 0:
        raise invalid("The emulator clock only moves forward.", param="seconds")
    req.emu.advance_clock(seconds)
    return clock(req)


def webhook_config(req: Request) -> dict[str, Any]:
    body = req.json()
    try:
        req.emu.webhooks.configure(**body)
    except (ValueError, TypeError) as exc:
        raise invalid(str(exc)) from None
    return req.emu.webhooks.policy.describe()


def add_endpoint(req: Request) -> dict[str, Any]:
    """Register an endpoint, optionally with a chosen secret (the fixture and `--webhook` use this)."""
    body = req.json()
    url = body.get("url")
    if not url:
        raise invalid("url is required", param="url")
    ev = body.get("events") or body.get("enabled_events") or ["*"]
    with req.emu.lock:
        we = events.new_endpoint(req.emu, url, list(ev), body.get("secret"))
    out = render(we)
    out["secret"] = we["_secrets"][-1]["secret"]
    return out


def roll(req: Request) -> dict[str, Any]:
    body = req.json()
    with req.emu.lock:
        return events.roll_secret(req.emu, req.args["we"], float(body.get("expire_in", 0)))


def deliveries(req: Request) -> dict[str, Any]:
    log = req.emu.webhooks.deliveries()
    return {"object": "list", "data": log, "pending": req.emu.webhooks.pending()}


def wait_deliveries(req: Request) -> dict[str, Any]:
    timeout = float(req.json().get("timeout", 10))
    idle = req.emu.webhooks.wait(timeout)
    return {"idle": idle, "pending": req.emu.webhooks.pending()}


def pay_session(req: Request) -> dict[str, Any]:
    body = req.json()
    card = body.get("card") or body.get("payment_method")
    if not card:
        raise invalid("card is required", param="card")
    return checkout.pay(req.emu, req.args["cs"], str(card))


def three_ds_api(req: Request) -> dict[str, Any]:
    outcome = req.json().get("outcome", "complete")
    with req.emu.lock:
        return render(payment_intents.authenticate(req.emu, req.args["pi"], outcome))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3D Secure 2 Test Page</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
.amount{{font-size:1.4rem}} form{{display:inline-block;margin-right:1rem}}
button{{font-size:1rem;padding:.6rem 1.4rem;cursor:pointer}}</style></head>
<body><h1>3D Secure 2 Test Page</h1>
<p>This is a test payment authentication page from the Stripe emulator.</p>
<p class="amount" data-testid="amount">{amount} {currency}</p>
<p>Card ending in <span data-testid="last4">{last4}</span></p>
<form method="post" action="/_emulator/3ds/{pi}"><input type="hidden" name="outcome" value="complete">
<button type="submit" id="test-source-authorize-3ds" name="complete">Complete</button></form>
<form method="post" action="/_emulator/3ds/{pi}"><input type="hidden" name="outcome" value="fail">
<button type="submit" id="test-source-fail-3ds" name="fail">Fail</button></form>
</body></html>"""

DONE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>3D Secure {status}</title></head>
<body><p data-testid="redirect-status">Authentication {status}.</p>
<script>if (window.parent !== window) {{ window.parent.postMessage(
  {{type: "stripe-emulator-3ds", payment_intent: "{pi}", redirect_status: "{status}"}}, "*"); }}</script>
</body></html>"""


def three_ds_page(req: Request) -> Response:
    emu = req.emu
    pi = emu.store.get(req.args["pi"], "payment_intent")
    if pi is None:
        return html("<p>No such payment intent.</p>", 404)
    if pi["status"] != "requires_action":
        return html(
            f"<p>This payment is not awaiting authentication (status {html_lib.escape(pi['status'])}).</p>",
            409,
        )
    pm = emu.store.get(pi.get("payment_method") or "", "payment_method") or {"card": {"last4": "????"}}
    return html(
        PAGE.format(
            amount=money.fmt_amount(pi["amount"], pi["currency"]),
            currency=html_lib.escape(pi["currency"].upper()),
            last4=html_lib.escape(pm["card"]["last4"]),
            pi=html_lib.escape(pi["id"]),
        )
    )


def three_ds_submit(req: Request) -> Response:
    emu = req.emu
    outcome = req.form().get("outcome", "complete")
    with emu.lock:
        pi = payment_intents.authenticate(emu, req.args["pi"], str(outcome))
        ok = pi["status"] in ("succeeded", "requires_capture", "processing")
        status = "succeeded" if ok else "failed"
        cs_id = pi.get("_checkout_session")
        if cs_id:
            cs = emu.store.get(cs_id, "checkout.session") or {}
            target = (checkout.success_redirect(cs) if ok else None) or f"{emu.base_url}/c/pay/{cs_id}"
            return redirect(target)
        return_url = pi.get("_return_url")
    if not return_url:
        return html(DONE.format(status=status, pi=html_lib.escape(pi["id"])))
    query = urlencode(
        {
            "payment_intent": pi["id"],
            "payment_intent_client_secret": pi["client_secret"],
            "redirect_status": status,
        }
    )
    return redirect(return_url + ("&" if "?" in return_url else "?") + query)


def receipt(req: Request) -> Response:
    pi = req.emu.store.get(req.args["pi"], "payment_intent")
    if pi is None:
        return html("<p>No such receipt.</p>", 404)
    amount = money.fmt_amount(pi["amount_received"] or pi["amount"], pi["currency"])
    return html(
        f"<!doctype html><title>Receipt</title><p>Receipt for {html_lib.escape(pi['id'])}: {amount}</p>"
    )


OBJECT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{kind} {id} · Stripe emulator</title>
<style>body{{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f6f8fa;border:1px solid #d0d7de;border-radius:.4rem;padding:1rem;overflow:auto}}</style>
</head><body><p>Stripe emulator: what the Stripe Dashboard would show for this object.</p>
<h1><span data-testid="kind">{kind}</span> <code data-testid="id">{id}</code></h1>
<pre data-testid="object">{body}</pre></body></html>"""
HIDDEN = "(hidden)"


def object_page(req: Request) -> Response:
    """A read-only page per object, standing in for the Dashboard: the product's admin links here
    when it runs against the emulator. No key is needed, so client secrets are left out."""
    with req.emu.lock:
        obj = req.emu.store.get(req.args["id"])
        shown = json.loads(json.dumps(render(obj))) if obj is not None else None
    if shown is None:
        missing = html_lib.escape(req.args["id"])
        return html(f"<!doctype html><title>Not found</title><p>No such object: {missing}</p>", 404)
    if shown.get("client_secret"):
        shown["client_secret"] = HIDDEN
    return html(
        OBJECT_PAGE.format(
            kind=html_lib.escape(str(shown.get("object", ""))),
            id=html_lib.escape(str(shown["id"])),
            body=html_lib.escape(json.dumps(shown, indent=2, sort_keys=True)),
        )
    )


def healthz(req: Request) -> dict[str, Any]:
    return {"ok": True, "objects": len(req.emu.store.objects), "pending_webhooks": req.emu.webhooks.pending()}


register("GET", "/healthz", healthz)
register("POST", "/_emulator/reset", reset)
register("GET", "/_emulator/faults", get_faults)
register("POST", "/_emulator/faults", set_faults)
register("DELETE", "/_emulator/faults", clear_faults)
register("GET", "/_emulator/rate_limits", get_rate_limits)
register("POST", "/_emulator/rate_limits", set_rate_limits)
register("POST", r"/_emulator/events/(?P<evt>evt_\w+)/resend", resend_event)
register("GET", "/_emulator/clock", clock)
register("POST", "/_emulator/clock/advance", advance)
register("POST", "/_emulator/webhooks/config", webhook_config)
register("POST", "/_emulator/webhook_endpoints", add_endpoint)
register("POST", r"/_emulator/webhook_endpoints/(?P<we>we_\w+)/roll_secret", roll)
register("GET", "/_emulator/deliveries", deliveries)
register("POST", "/_emulator/deliveries/wait", wait_deliveries)
register("POST", r"/_emulator/checkout/sessions/(?P<cs>cs_\w+)/pay", pay_session)
register("POST", r"/_emulator/payment_intents/(?P<pi>pi_\w+)/3ds", three_ds_api)
register("GET", r"/_emulator/3ds/(?P<pi>pi_\w+)", three_ds_page)
register("POST", r"/_emulator/3ds/(?P<pi>pi_\w+)", three_ds_submit)
register("GET", r"/_emulator/receipts/(?P<pi>pi_\w+)", receipt)
register("GET", r"/_emulator/objects/(?P<id>[A-Za-z0-9_]+)", object_page)
