"""A customer subscribes on our page with the Payment Element (the emulator's Stripe.js stand-in),
with 4242 and with 3155 (3-D Secure when the card is set up), in Chromium. Webhooks arrive at our
real endpoint and run eagerly (see conftest)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from billing.models import Plan, Subscriber, Subscription
from tests.browser.steps import fill_card, pay_on_our_page, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _start(page: Any, site: Any) -> None:
    Plan.objects.create(slug="reading-room", name="Reading Room", amount=900, currency="gbp")
    page.goto(site.url + "/billing/")
    page.get_by_role("link", name="Subscribe to Reading Room").click()
    page.fill("#id_email", "ada@example.com")
    page.locator("#subscribe-button").click()
    page.wait_for_url(re.compile(r"/billing/account/[^/]+/pay/$"))
    assert "£9.00" in page.locator("#pay-button").inner_text()


def _assert_active(page: Any) -> None:
    page.wait_for_url(re.compile(r"/billing/account/[^/]+/(\?.*)?$"))
    page.wait_for_selector('#subscription-status[data-status="active"]')
    assert "You have access to Reading Room" in page.locator("#access").inner_text()
    assert "Next charge: £9.00" in page.locator("#next-charge").inner_text()
    subscriber = Subscriber.objects.get()
    assert Subscription.objects.get(stripe_id=subscriber.stripe_subscription_id).status == "active"
    assert wait_for(lambda: any("is active" in m.subject for m in mail.outbox))
    assert len([m for m in mail.outbox if "is active" in m.subject]) == 1


def test_subscribe_4242_paid(page: Any, site: Any) -> None:
    _start(page, site)
    pay_on_our_page(page, "4242 4242 4242 4242")
    _assert_active(page)


def test_subscribe_3155_authenticated(page: Any, site: Any) -> None:
    _start(page, site)
    pay_on_our_page(page, "4000 0025 0000 3155")
    page.wait_for_url(re.compile(r"/_emulator/3ds/"))
    page.get_by_role("button", name="Complete").click()
    _assert_active(page)


def test_card_change_with_3155_then_renewal_paid(page: Any, site: Any) -> None:
    _start(page, site)
    pay_on_our_page(page, "4242 4242 4242 4242")
    _assert_active(page)
    page.locator("#change-card").click()
    page.wait_for_url(re.compile(r"/card/$"))
    pay_on_our_page_card(page, "4000 0025 0000 3155")
    frame = page.frame_locator("iframe[name=stripe-emulator-3ds]")
    frame.get_by_role("button", name="Complete").click()
    page.wait_for_url(re.compile(r"/billing/account/[^/]+/(\?.*)?$"))
    subscriber = Subscriber.objects.get()
    subscription = Subscription.objects.get(stripe_id=subscriber.stripe_subscription_id)
    saved = site.emulator.client().v1.payment_methods.retrieve(subscription.default_payment_method)
    assert saved.card.last4 == "3155" and saved.customer == subscriber.stripe_customer_id
    # the next renewal is charged to it off-session, without asking again
    site.emulator.advance_clock(31 * 86400 + 60)
    assert site.emulator.wait_for_deliveries(timeout=10)
    page.reload()
    page.wait_for_selector('#subscription-status[data-status="active"]')
    assert "Paid" in page.locator("#invoices").inner_text()
    assert len(page.locator("#invoices tbody tr").all()) == 2


def pay_on_our_page_card(page: Any, number: str) -> None:
    page.wait_for_selector('input[name="cardnumber"]')
    fill_card(page, number)
    page.locator("#save-card-button").click()
