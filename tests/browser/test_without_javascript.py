"""Only the card field needs JavaScript: with it turned off, a customer still shops, checks out,
pays on Stripe Checkout (3-D Secure included) and reads the outcome on our pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.steps import (
    add_poster_and_check_out,
    assert_fulfilled_once,
    latest_order,
    outcome,
    pay_on_hosted_page,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.no_javascript]


def test_without_javascript_checkout_with_3ds_is_paid(page: Any, site: Any) -> None:
    # the shop front, the cart and the checkout form are plain HTML forms
    add_poster_and_check_out(page, site, method="checkout")
    pay_on_hosted_page(page, "4000 0000 0000 3220")
    page.wait_for_url(re.compile(r"/_emulator/3ds/"))
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    assert_fulfilled_once(latest_order())


def test_without_javascript_a_decline_is_explained_and_the_order_page_says_so(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    pay_on_hosted_page(page, "4000 0000 0000 0002")
    page.wait_for_selector("#error-message:has-text('Your card was declined.')")
    order = latest_order()
    page.goto(f"{site.url}/orders/{order.public_token}/")
    # the order page is plain HTML: it reads the decline without any script
    outcome(page, "declined")
    assert "Your card was declined." in page.locator("#order-status").inner_text()


def test_without_javascript_the_card_page_offers_the_hosted_page_instead(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    first = latest_order()
    assert "The card form needs JavaScript." in page.locator("#needs-javascript").inner_text()
    page.get_by_role("link", name="go back to checkout").click()
    page.get_by_label("Pay on Stripe's secure checkout page").check()
    page.get_by_role("button", name="Continue to payment").click()
    pay_on_hosted_page(page, "4242 4242 4242 4242")
    outcome(page, "paid")
    # the new order is paid; the first one's PaymentIntent was canceled, so it can take no money
    paid = latest_order()
    assert paid.pk != first.pk
    assert_fulfilled_once(paid)
    intent = site.emulator.client().v1.payment_intents.retrieve(first.payment_intent_id)
    assert intent.status == "canceled"
