"""The browser side of the emulator: a Stripe.js stand-in (`/v3/`) and the hosted Checkout page.

Stripe.js calls `/v1/payment_intents/{id}` with `key=pk_...&client_secret=...` in the body and relies
on CORS. Our `/v1` layer reads the key only from the Authorization header and sends no CORS headers,
so the stand-in talks to `/v3/payment_intents/...` instead: these routes move the publishable key
into an Authorization header and re-dispatch the call to the real `/v1` route. Auth (pk_ + matching
client_secret), parameter validation, faults and the state lock therefore behave exactly as for a
server-side call; only the answer is trimmed to what a publishable key may see, plus CORS headers.

The hosted Checkout page (`/c/pay/{cs_id}`) is a plain HTML form that works without JavaScript.
"""

from __future__ import annotations

import datetime
import html as html_lib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from . import cards, wire
from .errors import StripeError
from .resources import billing, checkout, money, payment_methods
from .server import Request, Response, dispatch, html, new_request_id, redirect, register
from .state import Emulator

STRIPE_JS = (Path(__file__).with_name("static") / "stripe.js").read_text(encoding="utf-8")

# What Stripe.js can read of a PaymentIntent with a publishable key: no customer, metadata, charges.
CLIENT_PI_FIELDS = (
    "id",
    "object",
    "amount",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "processing",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
)

CORS_HEADERS = {
    # No cookies are involved (the key and client secret travel in the request), so `*` is enough.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Stripe-Version, Idempotency-Key",
    "Access-Control-Expose-Headers": "Request-Id",
    "Access-Control-Max-Age": "600",
}

AUTH_FAILED_CUSTOMER = (
    "We are unable to authenticate your payment method. "
    "Please choose a different payment method and try again."
)


# Stripe.js stand-in ---------------------------------------------------------------------------


def stripe_js(req: Request) -> Response:
    body = STRIPE_JS.replace("__STRIPE_EMULATOR_ORIGIN__", req.emu.base_url)
    return Response(200, body, dict(CORS_HEADERS), content_type="application/javascript; charset=utf-8")


def _stand_in_css() -> str:
    """The Payment Element's stylesheet: the STYLE array of stripe.js, joined as the script would."""
    block = STRIPE_JS.split("var STYLE = [", 1)[1].split("].join", 1)[0]
    return "".join(json.loads("[" + block.strip().rstrip(",") + "]"))


STAND_IN_CSS = _stand_in_css()


def stripe_css(req: Request) -> Response:
    return Response(200, STAND_IN_CSS, dict(CORS_HEADERS), content_type="text/css; charset=utf-8")


def preflight(req: Request) -> Response:
    return Response(204, b"", dict(CORS_HEADERS), content_type="text/plain")


def _client_view(pi: Any) -> Any:
    if not isinstance(pi, dict) or pi.get("object") != "payment_intent":
        return pi
    view = {k: pi.get(k) for k in CLIENT_PI_FIELDS}
    if isinstance(view["payment_method"], dict):  # expanded: Stripe.js only ever sees the id here
        view["payment_method"] = view["payment_method"].get("id")
    return view


def _json(resp: Response) -> Any:
    if not isinstance(resp.body, bytes | str):
        return resp.body
    try:  # an idempotent replay (or a handler) may hand back encoded JSON
        return json.loads(resp.body or b"null")
    except ValueError:
        return {"error": {"type": "api_error", "message": "The emulator sent an unreadable answer."}}


def _trim(resp: Response) -> Response:
    """Answer the browser with the publishable-key view of the PaymentIntent and CORS headers."""
    body = _json(resp)
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            error = dict(body["error"])
            if error.get("payment_intent") is not None:
                error["payment_intent"] = _client_view(error["payment_intent"])
            body = {"error": error}
        else:
            body = _client_view(body)
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    return Response(resp.status, body, {**headers, **CORS_HEADERS})


def _browser_params(req: Request) -> tuple[str, dict[str, Any]]:
    """(publishable key, the other parameters) of a Stripe.js-style call: form body or query string."""
    params = wire.decode(req.body.decode("utf-8") if req.method == "POST" else req.query)
    key = params.pop("key", "")
    return (key if isinstance(key, str) else ""), params


def _v1(req: Request, key: str, method: str, path: str, params: dict[str, Any]) -> Response:
    """Dispatch to a `/v1` route with the publishable key as the API key, like a server call."""
    encoded = urlencode(wire.encode(params))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    if "stripe-version" in req.headers:
        headers["stripe-version"] = req.headers["stripe-version"]
    inner = Request(
        emu=req.emu,
        method=method,
        path=path,
        query=encoded if method == "GET" else "",
        headers=headers,
        body=encoded.encode() if method == "POST" else b"",
        request_id=new_request_id(),
    )
    return dispatch(req.emu, inner)


def _bad_body(exc: wire.WireError) -> Response:
    return _trim(Response(400, {"error": {"type": "invalid_request_error", "message": str(exc)}}))


def confirm_intent(req: Request) -> Response:
    """Stripe.js's confirm, with the raw card in `payment_method_data[card]`.

    The API (and our spec check) takes raw card numbers only on `POST /v1/payment_methods`, so the
    card becomes a PaymentMethod first and the PaymentIntent is confirmed with it: the customer sees
    the same outcome as one Stripe.js call, and a bad number fails before the PaymentIntent is touched.
    """
    try:
        key, params = _browser_params(req)
    except wire.WireError as exc:
        return _bad_body(exc)
    pmd = params.get("payment_method_data")
    if isinstance(pmd, dict) and isinstance(pmd.get("card"), dict):
        created = _v1(req, key, "POST", "/v1/payment_methods", pmd)
        if created.status != 200:
            return _trim(created)
        params.pop("payment_method_data")
        params["payment_method"] = _json(created)["id"]
    return _trim(_v1(req, key, "POST", f"/v1/payment_intents/{req.args['pi']}/confirm", params))


def confirm_setup(req: Request) -> Response:
    """Stripe.js's confirmSetup: the card becomes a PaymentMethod, then the SetupIntent is confirmed."""
    try:
        key, params = _browser_params(req)
    except wire.WireError as exc:
        return _bad_body(exc)
    pmd = params.get("payment_method_data")
    if isinstance(pmd, dict) and isinstance(pmd.get("card"), dict):
        created = _v1(req, key, "POST", "/v1/payment_methods", pmd)
        if created.status != 200:
            return _trim(created)
        params.pop("payment_method_data")
        params["payment_method"] = _json(created)["id"]
    params.pop("return_url", None)  # the stand-in navigates to it itself
    return _trim(_v1(req, key, "POST", f"/v1/setup_intents/{req.args['seti']}/confirm", params))


def retrieve_setup(req: Request) -> Response:
    try:
        key, params = _browser_params(req)
    except wire.WireError as exc:
        return _bad_body(exc)
    return _trim(_v1(req, key, "GET", f"/v1/setup_intents/{req.args['seti']}", params))


SETUP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3D Secure 2 Test Page</title></head>
<body><h1>3D Secure 2 Test Page</h1>
<p>Confirm this card is yours: it will be saved for future payments.</p>
<form method="post"><input type="hidden" name="outcome" value="complete">
<button type="submit" id="test-source-authorize-3ds" name="complete">Complete</button></form>
<form method="post"><input type="hidden" name="outcome" value="fail">
<button type="submit" id="test-source-fail-3ds" name="fail">Fail</button></form>
</body></html>"""


def setup_3ds_page(req: Request) -> Response:
    if req.method == "GET":
        return html(SETUP_PAGE)
    outcome = str(req.form().get("outcome", "complete"))
    with req.emu.lock:
        seti = billing.setup_intent_authenticate(req.emu, req.args["seti"], outcome)
    status = "succeeded" if seti["status"] == "succeeded" else "failed"
    return html(
        '<!doctype html><html lang="en"><body><p>Authentication '
        + status
        + ".</p><script>if (window.parent !== window) { window.parent.postMessage("
        + '{type: "stripe-emulator-3ds", setup_intent: "'
        + seti["id"]
        + '", redirect_status: "'
        + status
        + '"}, "*"); }</script></body></html>'
    )


def retrieve_intent(req: Request) -> Response:
    try:
        key, params = _browser_params(req)
    except wire.WireError as exc:
        return _bad_body(exc)
    return _trim(_v1(req, key, "GET", f"/v1/payment_intents/{req.args['pi']}", params))


# hosted Checkout ------------------------------------------------------------------------------


class FormError(Exception):
    """A field the customer must fix before we try the card; `field` is the input's id."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _card_number(raw: str) -> str:
    number = re.sub(r"[\s-]", "", raw)
    if not number.isdigit():
        if number:
            raise FormError("Your card number is invalid.", "cardNumber")
        raise FormError("Your card number is incomplete.", "cardNumber")
    minimum = 15 if number.startswith(("34", "37")) else 14 if number.startswith("36") else 16
    if len(number) < minimum:
        raise FormError("Your card number is incomplete.", "cardNumber")
    if len(number) > 19 or not cards.luhn_ok(number):
        raise FormError("Your card number is invalid.", "cardNumber")
    return number


def _expiry(raw: str, emu: Emulator) -> tuple[int, int]:
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 6:  # MM / YYYY
        digits = digits[:2] + digits[4:]
    if len(digits) != 4:
        raise FormError("Your card's expiration date is incomplete.", "cardExpiry")
    month, year = int(digits[:2]), 2000 + int(digits[2:])
    if not 1 <= month <= 12:
        raise FormError("Your card's expiration month is invalid.", "cardExpiry")
    today = datetime.datetime.fromtimestamp(emu.clock.time(), datetime.UTC)
    if year < today.year:
        raise FormError("Your card's expiration year is in the past.", "cardExpiry")
    if (year, month) < (today.year, today.month):
        raise FormError("Your card's expiration date is in the past.", "cardExpiry")
    return month, year


def _cvc(raw: str, number: str) -> str:
    cvc = raw.strip()
    needed = 4 if number.startswith(("34", "37")) else 3
    if not cvc.isdigit() or len(cvc) < needed:
        raise FormError("Your card's security code is incomplete.", "cardCvc")
    if len(cvc) > needed:
        raise FormError("Your card's security code is invalid.", "cardCvc")
    return cvc


def _email(raw: str) -> str:
    email = raw.strip()
    if not email:
        raise FormError("Your email address is incomplete.", "email")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise FormError("Your email address is invalid.", "email")
    return email


def _new_payment_method(emu: Emulator, form: dict[str, Any]) -> dict[str, Any]:
    """Check the form like Checkout's client-side validation, then make the card PaymentMethod."""
    email = _email(str(form.get("email", "")))
    number = _card_number(str(form.get("cardnumber", "")))
    month, year = _expiry(str(form.get("exp-date", "")), emu)
    cvc = _cvc(str(form.get("cvc", "")), number)
    details = {
        "email": email,
        "name": str(form.get("name", "")).strip() or None,
        "address": {"postal_code": str(form.get("postal", "")).strip() or None},
    }
    try:
        return payment_methods.new_card_pm(emu, number, month, year, details, cvc)
    except StripeError as exc:
        raise FormError(exc.message, "cardNumber") from None


def _customer_message(error: dict[str, Any]) -> str:
    # The API's text for a failed 3DS is for developers; Checkout shows the customer this one.
    if error.get("code") == "payment_intent_authentication_failure":
        return AUTH_FAILED_CUSTOMER
    return str(error.get("message") or "Your card was declined.")


def _pending_error(emu: Emulator, cs: dict[str, Any]) -> str | None:
    """The failure to show when the customer comes back from a failed (or declined) 3DS attempt."""
    pi = emu.store.get(cs.get("_payment_intent_id") or "", "payment_intent")
    if pi is None or pi["status"] != "requires_payment_method" or not pi.get("last_payment_error"):
        return None
    return _customer_message(pi["last_payment_error"])


def _default_email(emu: Emulator, cs: dict[str, Any]) -> tuple[str, bool]:
    """(email, locked): Checkout fixes the email it was given through customer_email or customer."""
    if cs.get("customer_email"):
        return cs["customer_email"], True
    customer = emu.store.get(cs.get("customer") or "", "customer")
    if customer and customer.get("email"):
        return customer["email"], True
    return "", False


def checkout_page(req: Request) -> Response:
    emu = req.emu
    with emu.lock:
        cs = _open_session(emu, req.args["cs"])
        if isinstance(cs, Response):
            return cs
        return _render_checkout(emu, cs, {}, _pending_error(emu, cs))


def checkout_submit(req: Request) -> Response:
    emu = req.emu
    form = req.form()
    with emu.lock:
        cs = _open_session(emu, req.args["cs"])
        if isinstance(cs, Response):
            return cs
        try:
            pm = _new_payment_method(emu, form)
        except FormError as exc:
            return _render_checkout(emu, cs, form, exc.message, exc.field, status=400)
        result = checkout.pay(emu, cs["id"], pm["id"])
        if result["status"] == "failed":
            return _render_checkout(emu, cs, form, _customer_message(result["error"] or {}), status=402)
        if result["status"] in ("requires_action", "complete") and result["redirect_url"]:
            return redirect(result["redirect_url"])
        return _inactive_page(result["session"])


def _open_session(emu: Emulator, cs_id: str) -> dict[str, Any] | Response:
    if emu.store.get(cs_id, "checkout.session") is None:
        body = (
            '<main class="narrow"><h1>Something went wrong</h1><p>This Checkout Session does not exist.</p>'
        )
        body += "</main>"
        return html(_page("Checkout Session not found", body), 404)
    cs = checkout.get_session(emu, cs_id)  # expires it now if its time has passed
    if cs["status"] != "open":
        return _inactive_page(cs)
    return cs


def _inactive_page(cs: dict[str, Any]) -> Response:
    if cs["status"] == "complete":
        detail, target = "This payment has already been completed.", checkout.success_redirect(cs)
    else:
        detail, target = "This Checkout Session has expired.", cs.get("cancel_url")
    link = f'<p><a id="return-link" href="{_e(target)}">Return to the merchant</a></p>' if target else ""
    body = (
        '<main class="narrow"><h1>This Checkout Session is no longer active</h1>'
        f'<p data-testid="session-status">{detail}</p>{link}</main>'
    )
    return html(_page("Checkout Session no longer active", body), 410 if cs["status"] == "expired" else 200)


def _money(amount: int, cur: str) -> str:
    return money.fmt_amount(amount, cur)


def _line_items_html(cs: dict[str, Any]) -> str:
    rows = []
    for item in cs.get("_line_items", []):
        name = item.get("description") or item["price"].get("nickname") or "Item"
        qty = item["quantity"]
        unit = _money(item["price"]["unit_amount"], item["currency"])
        each = f" &middot; {_e(unit)} each" if qty > 1 else ""
        rows.append(
            f'<li class="line-item"><span class="li-name">{_e(name)}'
            f'<span class="li-qty">Qty {qty}{each}</span></span>'
            f'<span class="li-amount">{_e(_money(item["amount_total"], item["currency"]))}</span></li>'
        )
    return "".join(rows)


def _field(label: str, ident: str, name: str, value: str, error_field: str | None, **attrs: str) -> str:
    invalid = ' aria-invalid="true" aria-describedby="error-message"' if error_field == ident else ""
    extra = "".join(f' {k.replace("_", "-")}="{_e(v)}"' for k, v in attrs.items())
    return (
        f'<div class="field"><label for="{ident}">{label}</label>'
        f'<input id="{ident}" name="{name}" value="{_e(value)}"{extra}{invalid}></div>'
    )


def _form_fields(email: str, locked: bool, form: dict[str, Any], error_field: str | None) -> str:
    numeric = {"inputmode": "numeric", "aria_required": "true", "spellcheck": "false"}
    email_attrs = {"type": "email", "autocomplete": "email", "aria_required": "true"}
    if locked:
        email_attrs["readonly"] = "readonly"
    number = _field(
        "Card number", "cardNumber", "cardnumber", "", error_field,
        autocomplete="cc-number", placeholder="1234 1234 1234 1234", maxlength="23", **numeric,
    )  # fmt: skip
    expiry = _field(
        "Expiration (MM / YY)", "cardExpiry", "exp-date", "", error_field,
        autocomplete="cc-exp", placeholder="MM / YY", maxlength="7", **numeric,
    )  # fmt: skip
    cvc = _field(
        "CVC", "cardCvc", "cvc", "", error_field,
        autocomplete="cc-csc", placeholder="CVC", maxlength="4", **numeric,
    )  # fmt: skip
    name = _field(
        "Cardholder name (optional)", "billingName", "name", str(form.get("name", "")), error_field,
        autocomplete="cc-name",
    )  # fmt: skip
    postal = _field(
        "ZIP / Postal code (optional)", "billingPostalCode", "postal", str(form.get("postal", "")),
        error_field, autocomplete="postal-code", maxlength="10",
    )  # fmt: skip
    return (
        _field("Email", "email", "email", email, error_field, **email_attrs)
        + f"<fieldset><legend>Card information</legend>{number}"
        + f'<div class="pair">{expiry}{cvc}</div></fieldset>'
        + name
        + postal
    )


def _render_checkout(
    emu: Emulator,
    cs: dict[str, Any],
    form: dict[str, Any],
    error: str | None,
    error_field: str | None = None,
    status: int = 200,
) -> Response:
    total = _e(_money(cs["amount_total"], cs["currency"]))
    email, locked = _default_email(emu, cs)
    email = email if locked else str(form.get("email", ""))
    back = ""
    if cs.get("cancel_url"):
        back = f'<a id="cancel-link" class="back" href="{_e(cs["cancel_url"])}">&larr; Back</a>'
    alert = _e(error) if error else ""
    body = f"""{back}
<main class="checkout">
<section class="summary" aria-labelledby="summary-heading">
  <h1 id="summary-heading">Pay <span class="total" data-testid="total-amount">{total}</span>
    <span class="currency">{_e(cs["currency"].upper())}</span></h1>
  <ul class="line-items" data-testid="line-items">{_line_items_html(cs)}</ul>
  <p class="total-row"><span>Total due</span> <strong data-testid="total-due">{total}</strong></p>
</section>
<section class="payment" aria-labelledby="payment-heading">
  <h2 id="payment-heading">Pay with card</h2>
  <div id="error-message" class="error" role="alert">{alert}</div>
  <form method="post" action="/c/pay/{_e(cs["id"])}" novalidate>
    {_form_fields(email, locked, form, error_field)}
    <button type="submit" id="submit-button" data-testid="hosted-payment-submit-button">Pay {total}</button>
  </form>
  <p class="note">Stripe emulator test page. Use a test card such as 4242 4242 4242 4242.</p>
</section>
</main>
<script>{_CHECKOUT_JS}</script>"""
    return html(_page("Checkout", body), status)


# Optional niceties only: the form works without them. Group the card number, add " / " to the
# expiry, focus the field to fix, and stop a double submission.
_CHECKOUT_JS = """
(function () {
  var form = document.querySelector("form");
  var number = document.getElementById("cardNumber");
  var expiry = document.getElementById("cardExpiry");
  number.addEventListener("input", function () {
    var d = number.value.replace(/\\D/g, "").slice(0, 19);
    number.value = d.replace(/(\\d{4})(?=\\d)/g, "$1 ");
  });
  expiry.addEventListener("input", function () {
    var d = expiry.value.replace(/\\D/g, "").slice(0, 4);
    expiry.value = d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2) : d;
  });
  // After a refusal, put the keyboard where the customer has to act: the flagged input, or the
  // card number (cleared) after a decline.
  if (document.getElementById("error-message").textContent) {
    (document.querySelector("input[aria-invalid=true]") || number).focus();
  }
  form.addEventListener("submit", function () {
    var button = document.getElementById("submit-button");
    setTimeout(function () { button.disabled = true; button.textContent = "Processing\\u2026"; }, 0);
  });
})();
"""

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1f36;
  background:#fff;line-height:1.4;font-size:16px}
.back{display:inline-block;margin:1rem;color:#1a1f36;text-decoration:none;padding:.4rem .2rem}
.back:focus,.back:hover{text-decoration:underline}
.checkout{display:grid;grid-template-columns:1fr;gap:1.5rem;max-width:60rem;margin:0 auto;padding:0 1rem 2rem}
@media (min-width:50rem){.checkout{grid-template-columns:1fr 1fr;gap:4rem;padding-top:2rem}}
.narrow{max-width:32rem;margin:3rem auto;padding:0 1rem}
h1{font-size:1.1rem;font-weight:500;color:#697386;margin:0 0 1rem}
h1 .total{display:block;font-size:2.2rem;font-weight:600;color:#1a1f36}
h1 .currency{font-size:.9rem}
h2{font-size:1.2rem;margin:0 0 1rem}
.line-items{list-style:none;margin:0;padding:0}
.line-item{display:flex;justify-content:space-between;gap:1rem;padding:.6rem 0;
  border-bottom:1px solid #e3e8ee}
.li-qty{display:block;color:#697386;font-size:.85rem}
.total-row{display:flex;justify-content:space-between;font-size:1.05rem;margin-top:1rem}
fieldset{border:0;margin:0 0 1rem;padding:0}
legend{font-weight:500;margin-bottom:.4rem;padding:0}
.field{margin-bottom:.8rem}
.field label{display:block;font-size:.9rem;margin-bottom:.25rem;color:#3c4257}
.field input{width:100%;font-size:16px;padding:.65rem .75rem;border:1px solid #c4c9d2;border-radius:6px}
.field input:focus{outline:2px solid #0570de;outline-offset:1px;border-color:#0570de}
.field input[readonly]{background:#f6f8fa}
.field input[aria-invalid=true]{border-color:#df1b41}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:.75rem}
.error{color:#df1b41;min-height:1.4em;margin-bottom:.5rem}
.error:empty{min-height:0;margin:0}
button{width:100%;font-size:1.05rem;padding:.8rem;border:0;border-radius:6px;background:#0570de;color:#fff;
  cursor:pointer;font-weight:600}
button:focus{outline:3px solid #1a1f36;outline-offset:2px}
button:disabled{opacity:.7}
.note{color:#697386;font-size:.8rem}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _e(value: Any) -> str:
    return html_lib.escape(str(value if value is not None else ""), quote=True)


register("GET", r"/v3/?", stripe_js)
register("GET", r"/v3/elements\.css", stripe_css)
register("OPTIONS", r"/v3/.*", preflight)
register("POST", r"/v3/payment_intents/(?P<pi>pi_\w+)/confirm", confirm_intent)
register("GET", r"/v3/payment_intents/(?P<pi>pi_\w+)", retrieve_intent)
register("POST", r"/v3/setup_intents/(?P<seti>seti_\w+)/confirm", confirm_setup)
register("GET", r"/v3/setup_intents/(?P<seti>seti_\w+)", retrieve_setup)
register("GET", r"/_emulator/setup_intents/(?P<seti>seti_\w+)/3ds", setup_3ds_page)
register("POST", r"/_emulator/setup_intents/(?P<seti>seti_\w+)/3ds", setup_3ds_page)
register("GET", r"/c/pay/(?P<cs>cs_\w+)", checkout_page)
register("POST", r"/c/pay/(?P<cs>cs_\w+)", checkout_submit)
