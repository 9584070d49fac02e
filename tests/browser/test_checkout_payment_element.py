"""A customer pays on our own page with the Payment Element (the emulator's Stripe.js stand-in),
with each test card that matters, in Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from orders.models import Order
from tests.browser.steps import (
    add_poster_and_check_out,
    assert_fulfilled_once,
    latest_order,
    outcome,
    pay_on_our_page,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_element_4242_paid(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    page.wait_for_url(re.compile(r"/orders/[^/]+/pay/$"))
    assert page.evaluate("window.Stripe.emulator") is True
    pay_on_our_page(page, "4242 4242 4242 4242")
    outcome(page, "paid")
    assert "£24.00" in page.locator("[data-testid=total]").inner_text()
    order = latest_order()
    assert_fulfilled_once(order)
    assert order.customer_ip == "127.0.0.1"
    assert "Chrome" in order.user_agent
    # the worker's confirmation email, once
    assert wait_for(lambda: len(mail.outbox) >= 1)
    assert [m.subject for m in mail.outbox] == [f"Your order {order.number} is confirmed"]


def test_element_generic_decline_then_retry_with_4242(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4000 0000 0000 0002")
    outcome(page, "declined")
    assert "Your card was declined." in page.locator("#order-status").inner_text()
    order = latest_order()
    first_intent = order.payment_intent_id
    page.get_by_role("link", name="Try again").click()
    assert "Your card was declined." in page.locator("#previous-failure").inner_text()
    pay_on_our_page(page, "4242424242424242")
    outcome(page, "paid")
    order.refresh_from_db()
    assert order.payment_intent_id == first_intent
    assert_fulfilled_once(order)


def test_element_insufficient_funds_shows_its_message(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4000 0000 0000 9995")
    outcome(page, "declined")
    assert "Your card has insufficient funds. Try another card." in page.locator("#order-status").inner_text()
    assert "insufficient_funds" not in page.content()
    assert latest_order().status == Order.Status.PAYMENT_FAILED


def test_element_3ds_completed(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4000 0000 0000 3220")
    page.wait_for_url(re.compile(r"/_emulator/3ds/"))
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    assert_fulfilled_once(latest_order())


def test_element_3ds_failed_then_retried(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4000 0000 0000 3220")
    page.get_by_role("button", name="Fail").click()
    outcome(page, "authentication_failed")
    assert "3-D Secure" in page.locator("#order-status").inner_text()
    page.get_by_role("link", name="Try again").click()
    pay_on_our_page(page, "4000 0000 0000 3220")
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    assert_fulfilled_once(latest_order())


def test_element_always_authenticate_card(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4000 0027 6000 3184")
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    assert_fulfilled_once(latest_order())


def test_element_3ds_then_declined_card(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    pay_on_our_page(page, "4000 0082 6000 3178")
    page.get_by_role("button", name="Complete").click()
    outcome(page, "declined")
    assert "insufficient funds" in page.locator("#order-status").inner_text()


def test_element_tab_closed_right_after_confirmation_webhook_fulfills(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    order = latest_order()
    # the customer's tab dies as Stripe.js sends them back: our return page is never reached
    page.route(re.compile(r"/orders/[^/]+/\?payment_intent="), lambda route: route.abort())
    pay_on_our_page(page, "4242 4242 4242 4242")
    page.wait_for_event("requestfailed", predicate=lambda r: "redirect_status" in r.url)
    page.close()
    # then the webhook alone fulfills the order, once, and the email goes out once
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    assert_fulfilled_once(order)
    assert order.fulfillment.source.startswith("evt_")
    assert wait_for(lambda: len(mail.outbox) == 1)
    # and when they come back later, the order page says paid
    later = page.context.new_page()
    later.goto(f"{site.url}/orders/{order.public_token}/")
    outcome(later, "paid")


def test_element_success_url_without_paying_changes_nothing(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="payment_element")
    order = latest_order()
    page.goto(
        f"{site.url}/orders/{order.public_token}/?payment_intent={order.payment_intent_id}"
        "&redirect_status=succeeded"
    )
    outcome(page, "awaiting")
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not hasattr(order, "fulfillment")
