"""STRIPE_REQUEST_THREE_D_SECURE=any: 4242 (which Stripe lets through without 3-D Secure under
`automatic`) asks the customer to authenticate, on our own page and on the hosted page, and the
paid charge records an authenticated 3-D Secure, so the liability shift applies."""

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
    pay_on_our_page,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREE_DS_PAGE = re.compile(r"/_emulator/3ds/")


def _authenticated(site: Any, payment_intent_id: str) -> bool:
    client = site.emulator.client()
    [charge] = client.v1.charges.list(params={"payment_intent": payment_intent_id}).data
    return charge.payment_method_details.card.three_d_secure.result == "authenticated"


@pytest.fixture
def any_3ds(settings: Any) -> None:
    settings.STRIPE_REQUEST_THREE_D_SECURE = "any"


def test_element_4242_under_any_authenticates_then_pays(page: Any, site: Any, any_3ds: None) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4242 4242 4242 4242")
    page.wait_for_url(THREE_DS_PAGE)
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    order = latest_order()
    assert_fulfilled_once(order)
    assert _authenticated(site, order.payment_intent_id)


def test_hosted_4242_under_any_authenticates_then_pays(page: Any, site: Any, any_3ds: None) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    pay_on_hosted_page(page, "4242 4242 4242 4242")
    page.wait_for_url(THREE_DS_PAGE)
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    order = latest_order()
    assert_fulfilled_once(order)
    assert _authenticated(site, order.payment_intent_id)
