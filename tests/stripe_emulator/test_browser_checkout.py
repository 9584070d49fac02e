"""The hosted Checkout page (`/c/pay/{id}`) driven by Chromium, as a customer sent there by the shop."""

from __future__ import annotations

import urllib.error
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


def _session(client: Any, shop: Shop, **extra: Any) -> Any:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {"currency": "usd", "unit_amount": 1250, "product_data": {"name": "T-shirt"}},
                "quantity": 2,
            },
            {
                "price_data": {"currency": "usd", "unit_amount": 499, "product_data": {"name": "Sticker"}},
                "quantity": 1,
            },
        ],
        "success_url": f"{shop.url}/success/?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{shop.url}/cart/",
        "customer_email": "ada@example.com",
    }
    params.update(extra)
    return client.v1.checkout.sessions.create(params=params)


def _pay(page: Any, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
    page.fill('input[name="cardnumber"]', number)
    page.fill('input[name="exp-date"]', expiry)
    page.fill('input[name="cvc"]', cvc)
    page.get_by_role("button", name="Pay").click()


def test_pay_with_4242_lands_on_success_url(page: Any, shop: Shop, client: Any) -> None:
    cs = _session(client, shop)
    page.goto(cs.url)
    assert page.inner_text("[data-testid=total-amount]") == "$29.99"
    items = page.inner_text("[data-testid=line-items]")
    assert "T-shirt" in items and "Qty 2" in items and "$25.00" in items and "Sticker" in items
    assert page.input_value("#email") == "ada@example.com"

    _pay(page, "4242 4242 4242 4242")
    page.wait_for_url(f"{shop.url}/success/?*")
    assert parse_qs(urlsplit(page.url).query)["session_id"] == [cs.id]
    done = client.v1.checkout.sessions.retrieve(cs.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.customer_details.email == "ada@example.com"
    assert client.v1.payment_intents.retrieve(done.payment_intent).status == "succeeded"


def test_decline_then_another_card(page: Any, shop: Shop, client: Any) -> None:
    cs = _session(client, shop)
    page.goto(cs.url)
    _pay(page, "4000000000000002")
    page.wait_for_selector("#error-message:text('Your card was declined.')")
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"
    assert page.evaluate("document.activeElement.name") == "cardnumber"  # ready for the next card

    _pay(page, "4000000000009995")
    page.wait_for_selector("#error-message:text('Your card has insufficient funds.')")

    _pay(page, "4242424242424242")
    page.wait_for_url(f"{shop.url}/success/?*")
    done = client.v1.checkout.sessions.retrieve(cs.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    charges = client.v1.charges.list(params={"payment_intent": done.payment_intent}).data
    assert sorted(c.status for c in charges) == ["failed", "failed", "succeeded"]


def test_3ds_complete_finishes_the_session(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    cs = _session(client, shop)
    page.goto(cs.url)
    _pay(page, "4000000000003220")
    page.wait_for_url(f"{stripe_emulator.url}/_emulator/3ds/*")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{shop.url}/success/?*")
    assert parse_qs(urlsplit(page.url).query)["session_id"] == [cs.id]
    done = client.v1.checkout.sessions.retrieve(cs.id)
    assert (done.status, done.payment_status) == ("complete", "paid")


def test_3ds_fail_shows_the_page_again_with_the_session_open(
    page: Any, shop: Shop, stripe_emulator: EmulatorHandle, client: Any
) -> None:
    cs = _session(client, shop)
    page.goto(cs.url)
    _pay(page, "4000000000003220")
    page.wait_for_url(f"{stripe_emulator.url}/_emulator/3ds/*")
    page.get_by_role("button", name="Fail").click()
    page.wait_for_url(cs.url)
    page.wait_for_selector("#error-message:text('We are unable to authenticate your payment method.')")
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"

    _pay(page, "4242424242424242")
    page.wait_for_url(f"{shop.url}/success/?*")
    assert client.v1.checkout.sessions.retrieve(cs.id).payment_status == "paid"


def test_back_link_goes_to_cancel_url(page: Any, shop: Shop, client: Any) -> None:
    cs = _session(client, shop)
    page.goto(cs.url)
    page.get_by_role("link", name="Back").click()
    page.wait_for_url(f"{shop.url}/cart/")
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"


def test_incomplete_fields_are_refused_before_charging(page: Any, shop: Shop, client: Any) -> None:
    cs = _session(client, shop, customer_email=None)
    page.goto(cs.url)
    assert page.get_attribute("#email", "readonly") is None
    page.fill("#email", "grace@example.com")
    _pay(page, "4242 4242")
    page.wait_for_selector("#error-message:text('Your card number is incomplete.')")
    assert page.get_attribute('input[name="cardnumber"]', "aria-invalid") == "true"
    assert page.input_value("#email") == "grace@example.com"
    page.fill("#email", "")
    _pay(page, "4242424242424242")
    page.wait_for_selector("#error-message:text('Your email address is incomplete.')")
    assert page.evaluate("document.activeElement.id") == "email"
    page.fill("#email", "grace@example.com")
    _pay(page, "4242424242424242", expiry="12 / 1")
    page.wait_for_selector('#error-message:text("Your card\'s expiration date is incomplete.")')
    assert client.v1.charges.list().data == []

    _pay(page, "4242424242424242")
    page.wait_for_url(f"{shop.url}/success/?*")
    assert client.v1.checkout.sessions.retrieve(cs.id).customer_details.email == "grace@example.com"


def test_completed_and_expired_sessions_are_no_longer_active(page: Any, shop: Shop, client: Any) -> None:
    cs = _session(client, shop)
    page.goto(cs.url)
    _pay(page, "4242424242424242")
    page.wait_for_url(f"{shop.url}/success/?*")
    page.goto(cs.url)
    page.wait_for_selector("h1:text('This Checkout Session is no longer active')")

    expired = _session(client, shop)
    client.v1.checkout.sessions.expire(expired.id)
    page.goto(expired.url)
    page.wait_for_selector("h1:text('This Checkout Session is no longer active')")
    page.get_by_role("link", name="Return to the merchant").click()
    page.wait_for_url(f"{shop.url}/cart/")


def test_phone_layout_and_zero_decimal_currency(page: Any, shop: Shop, client: Any) -> None:
    items = [
        {
            "price_data": {"currency": "jpy", "unit_amount": 1500, "product_data": {"name": "Tea"}},
            "quantity": 3,
        }
    ]
    cs = _session(client, shop, line_items=items)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(cs.url)
    assert page.inner_text("[data-testid=total-amount]") == "¥4,500"
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator('input[name="cardnumber"]').bounding_box()
    assert box is not None and box["width"] > 250


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_session_is_a_404(stripe_emulator: EmulatorHandle, method: str) -> None:
    req = urllib.request.Request(f"{stripe_emulator.url}/c/pay/cs_test_nope", method=method, data=b"")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 404
