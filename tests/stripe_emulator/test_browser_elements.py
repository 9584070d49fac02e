"""The Stripe.js stand-in (`/v3/`) driven by Chromium, from a shop page on another origin."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from stripe_emulator.testing import EmulatorHandle

from . import browser_helpers
from .browser_helpers import Shop

pytestmark = browser_helpers.browser_marks
# The helper's fixtures, made visible to pytest in this module.
browser, shop_server, shop, page = (
    browser_helpers.browser,
    browser_helpers.shop_server,
    browser_helpers.shop,
    browser_helpers.page,
)

# The shop template from the integration guide, with hooks for the tests to read the outcome.
PAY_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pay</title>
<script src="{stripe_js}"></script></head><body>
<form id="payment-form">
  <div id="payment-element"><p>Loading the card form</p></div><div id="payment-message" role="alert"></div>
  <button id="submit">Pay</button>
</form>
<p id="result"></p>
<script>
  const stripe = Stripe("{publishable_key}");
  const elements = stripe.elements({{ clientSecret: "{client_secret}", appearance: {{ theme: "stripe" }} }});
  const paymentElement = elements.create("payment", {{ layout: "tabs" }});
  paymentElement.mount("#payment-element");
  paymentElement.on("ready", () => {{ document.body.dataset.ready = "yes"; }});
  document.getElementById("payment-form").addEventListener("submit", async (event) => {{
    event.preventDefault();
    const options = {{ elements, confirmParams: {{ {return_url} }} }};
    if ({if_required}) options.redirect = "if_required";
    const {{ error, paymentIntent }} = await stripe.confirmPayment(options);
    if (error) {{
      window.lastError = error;
      document.getElementById("payment-message").textContent = error.message;
    }} else {{
      document.getElementById("result").textContent = "paid: " + paymentIntent.status;
    }}
  }});
</script></body></html>"""

RETURN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Return</title>
<script src="{stripe_js}"></script></head><body><h1>Order status</h1><p id="status">loading</p>
<script>
  const secret = new URLSearchParams(window.location.search).get("payment_intent_client_secret");
  Stripe("{publishable_key}").retrievePaymentIntent(secret).then(({{ paymentIntent, error }}) => {{
    document.getElementById("status").textContent = paymentIntent ? paymentIntent.status : error.message;
  }});
</script></body></html>"""


def _payment_intent(client: Any) -> Any:
    return client.v1.payment_intents.create(
        params={"amount": 2599, "currency": "usd", "automatic_payment_methods": {"enabled": True}}
    )


def _open_pay_page(
    page: Any, shop: Shop, emulator: EmulatorHandle, client_secret: str, *, if_required: bool = False
) -> str:
    """Serve the shop's pay and return pages for this PaymentIntent; returns the return_url."""
    return_url = f"{shop.url}/return/"
    common = {"stripe_js": f"{emulator.url}/v3/", "publishable_key": emulator.publishable_key}
    shop.pages["/pay/"] = PAY_PAGE.format(
        **common,
        client_secret=client_secret,
        return_url="" if if_required else f'return_url: "{return_url}"',
        if_required="true" if if_required else "false",
    )
    shop.pages["/return/"] = RETURN_PAGE.format(**common)
    page.goto(f"{shop.url}/pay/")
    page.wait_for_selector("body[data-ready=yes]")
    return return_url


def _fill_card(page: Any, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
    page.fill('input[name="cardnumber"]', number)
    page.fill('input[name="exp-date"]', expiry)
    page.fill('input[name="cvc"]', cvc)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_keyboard_payment_with_4242_lands_on_return_url(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    return_url = _open_pay_page(page, shop, stripe_emulator, pi.client_secret)

    assert page.get_by_text("Loading the card form").count() == 0  # mount() replaced the placeholder
    # Only the keyboard: labelled inputs in tab order, and Enter submits the shop's form.
    page.get_by_label("Card number").focus()
    page.keyboard.type("4242424242424242")
    page.keyboard.press("Tab")
    page.keyboard.type("1234")
    page.keyboard.press("Tab")
    page.keyboard.type("123")
    assert page.input_value("#Field-numberInput") == "4242 4242 4242 4242"
    assert page.input_value("#Field-expiryInput") == "12 / 34"
    page.keyboard.press("Enter")

    page.wait_for_url(f"{return_url}?*")
    query = _query(page.url)
    assert query == {
        "payment_intent": pi.id,
        "payment_intent_client_secret": pi.client_secret,
        "redirect_status": "succeeded",
    }
    page.wait_for_selector("#status:text('succeeded')")
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    assert page.js_errors == []


def test_decline_then_another_card_on_the_same_payment_intent(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    return_url = _open_pay_page(page, shop, stripe_emulator, pi.client_secret)

    _fill_card(page, "4000000000000002")
    page.click("#submit")
    page.wait_for_selector("#payment-message:text('Your card was declined.')")
    error = page.evaluate("window.lastError")
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["payment_intent"]["id"] == pi.id
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert page.url == f"{shop.url}/pay/"

    _fill_card(page, "4242 4242 4242 4242")
    page.click("#submit")
    page.wait_for_url(f"{return_url}?*")
    assert _query(page.url)["payment_intent"] == pi.id
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    charges = client.v1.charges.list(params={"payment_intent": pi.id}).data
    assert sorted(c.status for c in charges) == ["failed", "succeeded"]


@pytest.mark.parametrize(
    ("number", "message", "code"),
    [
        ("4000000000009995", "Your card has insufficient funds.", "card_declined"),
        ("4000000000000069", "Your card has expired.", "expired_card"),
        ("4000000000000127", "Your card's security code is incorrect.", "incorrect_cvc"),
        (
            "4000000000000119",
            "An error occurred while processing your card. Try again in a little bit.",
            "processing_error",
        ),
    ],
    ids=["insufficient_funds", "expired_card", "incorrect_cvc", "processing_error"],
)
def test_decline_messages(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any, number: str, message: str, code: str
) -> None:
    pi = _payment_intent(client)
    _open_pay_page(page, shop, stripe_emulator, pi.client_secret)
    _fill_card(page, number)
    page.click("#submit")
    page.wait_for_selector(f'#payment-message:text("{message}")')
    assert page.evaluate("window.lastError.code") == code
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_3ds_complete_returns_succeeded(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    return_url = _open_pay_page(page, shop, stripe_emulator, pi.client_secret)
    _fill_card(page, "4000000000003220")
    page.click("#submit")

    page.wait_for_url(f"{stripe_emulator.url}/_emulator/3ds/{pi.id}")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{return_url}?*")
    assert _query(page.url)["redirect_status"] == "succeeded"
    page.wait_for_selector("#status:text('succeeded')")
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_3ds_fail_returns_failed_with_last_payment_error(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    return_url = _open_pay_page(page, shop, stripe_emulator, pi.client_secret)
    _fill_card(page, "4000000000003220")
    page.click("#submit")

    page.wait_for_url(f"{stripe_emulator.url}/_emulator/3ds/{pi.id}")
    page.get_by_role("button", name="Fail").click()
    page.wait_for_url(f"{return_url}?*")
    assert _query(page.url)["redirect_status"] == "failed"
    page.wait_for_selector("#status:text('requires_payment_method')")
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == "payment_intent_authentication_failure"


def test_incomplete_number_is_refused_without_calling_the_emulator(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    _open_pay_page(page, shop, stripe_emulator, pi.client_secret)
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/payment_intents/" in r.url else None)

    _fill_card(page, "4242 4242")
    page.click("#submit")
    page.wait_for_selector("#payment-message:text('Your card number is incomplete.')")
    assert page.evaluate("window.lastError") == {
        "type": "validation_error",
        "code": "incomplete_number",
        "message": "Your card number is incomplete.",
    }
    assert page.get_attribute('input[name="cardnumber"]', "aria-invalid") == "true"

    page.fill('input[name="cardnumber"]', "")
    page.click("#submit")
    page.wait_for_function("window.lastError && document.querySelector('#payment-message').textContent")
    page.fill('input[name="cardnumber"]', "4242424242424242")
    page.fill('input[name="cvc"]', "1")
    page.click("#submit")
    page.wait_for_selector('#payment-message:text("Your card\'s security code is incomplete.")')
    assert calls == []
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_redirect_if_required_resolves_without_navigation(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    _open_pay_page(page, shop, stripe_emulator, pi.client_secret, if_required=True)
    _fill_card(page, "4242424242424242")
    page.click("#submit")
    page.wait_for_selector("#result:text('paid: succeeded')")
    assert page.url == f"{shop.url}/pay/"
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_redirect_if_required_3ds_without_return_url_uses_a_modal(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = _payment_intent(client)
    _open_pay_page(page, shop, stripe_emulator, pi.client_secret, if_required=True)
    _fill_card(page, "4000000000003220")
    page.click("#submit")
    page.frame_locator("iframe[name=stripe-emulator-3ds]").get_by_role("button", name="Complete").click()
    page.wait_for_selector("#result:text('paid: succeeded')")
    assert page.url == f"{shop.url}/pay/"
    assert page.locator("iframe[name=stripe-emulator-3ds]").count() == 0


def test_retrieve_payment_intent_shows_only_client_fields(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "jpy",
            "metadata": {"order": "42"},
            "payment_method_types": ["card"],
        }
    )
    _open_pay_page(page, shop, stripe_emulator, pi.client_secret)
    result = page.evaluate("s => stripe.retrievePaymentIntent(s)", pi.client_secret)
    seen = result["paymentIntent"]
    assert (seen["id"], seen["status"], seen["amount"], seen["currency"]) == (
        pi.id,
        "requires_payment_method",
        1500,
        "jpy",
    )
    assert seen["client_secret"] == pi.client_secret
    assert {"last_payment_error", "next_action"} <= set(seen)
    assert "metadata" not in seen and "customer" not in seen

    wrong = page.evaluate("s => stripe.retrievePaymentIntent(s)", f"{pi.id}_secret_wrong")
    assert wrong["error"]["type"] == "invalid_request_error"
    assert "client_secret" in wrong["error"]["message"]


def test_secret_key_is_refused(page: Any, shop: Shop, stripe_emulator: EmulatorHandle) -> None:
    shop.pages["/"] = f'<!doctype html><script src="{stripe_emulator.url}/v3/"></script>'
    page.goto(f"{shop.url}/")
    message = page.evaluate("() => { try { Stripe('sk_test_123'); } catch (e) { return e.message; } }")
    assert "secret key" in message


def test_cors_preflight_and_headers(stripe_emulator: EmulatorHandle, client: Any) -> None:
    pi = _payment_intent(client)
    url = f"{stripe_emulator.url}/v3/payment_intents/{pi.id}/confirm"
    preflight = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={"Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST"},
    )
    with urllib.request.urlopen(preflight, timeout=10) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    query = f"key={stripe_emulator.publishable_key}&client_secret={pi.client_secret}"
    with urllib.request.urlopen(
        f"{stripe_emulator.url}/v3/payment_intents/{pi.id}?{query}", timeout=10
    ) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert json.loads(resp.read())["id"] == pi.id
    with urllib.request.urlopen(f"{stripe_emulator.url}/v3/", timeout=10) as resp:
        assert re.match(r"application/javascript", resp.headers["Content-Type"])
