"""A customer pays on Stripe Checkout (the emulator's hosted page at `/c/pay/{cs_id}`) with each
test card that matters, in Chromium. The success page and the signed webhook both apply the paid
session; whichever comes first fulfills, the other finds it done."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from orders.models import Fulfillment, Order
from tests.browser.steps import (
    add_poster_and_check_out,
    assert_fulfilled_once,
    latest_order,
    outcome,
    pay_on_hosted_page,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

ORDER_PAGE = re.compile(r"/orders/[^/]+/$")
THREE_DS_PAGE = re.compile(r"/_emulator/3ds/")
NOT_CONFIRMED = "We couldn't confirm a payment from this link"


def sessions(site: Any) -> list[Any]:
    return site.emulator.client().v1.checkout.sessions.list().data


def error_on_hosted_page(page: Any, text: str) -> None:
    page.wait_for_selector(f"#error-message:has-text({text!r})")


def assert_one_confirmation_email(site: Any, order: Order) -> None:
    # Once every webhook has been answered (each ran its task eagerly), nothing more can be sent.
    assert site.emulator.wait_for_deliveries(timeout=10)
    assert [m.subject for m in mail.outbox] == [f"Your order {order.number} is confirmed"]


def test_hosted_4242_paid(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    # the hosted page charges what our catalog says, for what is in the cart
    assert page.locator("[data-testid=total-amount]").inner_text() == "£24.00"
    assert "Analytical Engine poster" in page.locator("[data-testid=line-items]").inner_text()
    assert page.locator("#email").input_value() == "ada@example.com"
    pay_on_hosted_page(page, "4242 4242 4242 4242")
    # the success URL confirms the session with Stripe, then shows the order
    page.wait_for_url(ORDER_PAGE)
    outcome(page, "paid")
    assert "£24.00" in page.locator("#order-status").inner_text()
    order = latest_order()
    assert_fulfilled_once(order)
    assert order.checkout_session_id == sessions(site)[0].id
    assert order.customer_ip == "127.0.0.1"
    assert "Chrome" in order.user_agent
    assert_one_confirmation_email(site, order)


def test_hosted_generic_decline_then_retry_with_4242(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    hosted_url = page.url
    pay_on_hosted_page(page, "4000 0000 0000 0002")
    error_on_hosted_page(page, "Your card was declined.")
    order = latest_order()
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.PAYMENT_FAILED)
    # the same session takes another card
    assert page.url == hosted_url
    pay_on_hosted_page(page, "4242424242424242")
    outcome(page, "paid")
    assert [session.id for session in sessions(site)] == [order.checkout_session_id]
    assert_fulfilled_once(order)
    assert_one_confirmation_email(site, order)


def test_hosted_insufficient_funds_shows_its_message(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    pay_on_hosted_page(page, "4000 0000 0000 9995")
    error_on_hosted_page(page, "Your card has insufficient funds.")
    assert "insufficient_funds" not in page.content()
    # the card field is emptied and focused, ready for another card
    assert page.locator('input[name="cardnumber"]').input_value() == ""
    assert page.evaluate("document.activeElement.name") == "cardnumber"
    order = latest_order()
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.PAYMENT_FAILED)
    order.refresh_from_db()
    assert order.last_decline_code == "insufficient_funds"
    assert sessions(site)[0].status == "open"


def test_hosted_3ds_completed(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    pay_on_hosted_page(page, "4000 0000 0000 3220")
    page.wait_for_url(THREE_DS_PAGE)
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    assert_fulfilled_once(latest_order())


def test_hosted_3ds_failed_then_retried(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    hosted_url = page.url
    pay_on_hosted_page(page, "4000 0000 0000 3220")
    page.wait_for_url(THREE_DS_PAGE)
    page.get_by_role("button", name="Fail").click()
    # back on the hosted page of the same session, told why
    page.wait_for_url(hosted_url)
    error_on_hosted_page(page, "We are unable to authenticate your payment method.")
    pay_on_hosted_page(page, "4000 0000 0000 3220")
    page.wait_for_url(THREE_DS_PAGE)
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    order = latest_order()
    assert_fulfilled_once(order)
    assert [session.id for session in sessions(site)] == [order.checkout_session_id]


def test_hosted_always_authenticate_card(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    pay_on_hosted_page(page, "4000 0027 6000 3184")
    page.wait_for_url(THREE_DS_PAGE)
    page.get_by_role("button", name="Complete").click()
    outcome(page, "paid")
    assert_fulfilled_once(latest_order())


def test_hosted_3ds_then_declined_card(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    hosted_url = page.url
    pay_on_hosted_page(page, "4000 0082 6000 3178")
    page.get_by_role("button", name="Complete").click()
    # authenticated, then the bank declines: back on the hosted page with the reason
    page.wait_for_url(hosted_url)
    error_on_hosted_page(page, "Your card has insufficient funds.")
    order = latest_order()
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.PAYMENT_FAILED)
    assert not Fulfillment.objects.filter(order=order).exists()


def test_hosted_tab_closed_right_after_paying_webhook_fulfills(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    order = latest_order()
    # the customer's tab dies as Checkout sends them back: the payment goes through, but the
    # redirect to our success page is never followed (Playwright does not route the hops of a
    # redirect, so the payment's own request is sent here and its answer dropped)
    answers: list[Any] = []

    def pay_then_die(route: Any) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        answers.append(route.fetch(max_redirects=0))
        route.abort()

    page.route(re.compile(r"/c/pay/cs_"), pay_then_die)
    with page.expect_event("requestfailed", predicate=lambda r: r.method == "POST"):
        pay_on_hosted_page(page, "4242 4242 4242 4242")
    page.close()
    [answer] = answers
    assert answer.status in (302, 303)
    assert f"/orders/{order.public_token}/checkout/success/?session_id=" in answer.headers["location"]
    # then the webhook alone fulfills the order, once, and the email goes out once
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    assert_fulfilled_once(order)
    assert order.fulfillment.source.startswith("evt_")
    assert_one_confirmation_email(site, order)
    # and when they come back later, the order page says paid
    later = page.context.new_page()
    later.goto(f"{site.url}/orders/{order.public_token}/")
    outcome(later, "paid")


def test_hosted_success_url_without_paying_changes_nothing(page: Any, site: Any, browser: Any) -> None:
    # given another customer's order, paid on the hosted page
    other = browser.new_context()
    try:
        other_page = other.new_page()
        add_poster_and_check_out(other_page, site, method="checkout")
        pay_on_hosted_page(other_page, "4242424242424242")
        outcome(other_page, "paid")
    finally:
        other.close()
    paid = latest_order()
    # and this customer's order, left unpaid on the hosted page
    add_poster_and_check_out(page, site, method="checkout")
    unpaid = latest_order()
    assert unpaid.pk != paid.pk
    # when they open success URLs they did not get from paying
    success = f"{site.url}/orders/{unpaid.public_token}/checkout/success/"
    for url in (
        success,
        f"{success}?session_id={unpaid.checkout_session_id}",
        f"{success}?session_id=cs_test_madeup",
        f"{success}?session_id={paid.checkout_session_id}",
        f"{site.url}/orders/{paid.public_token}/checkout/success/?session_id={unpaid.checkout_session_id}",
        f"{site.url}/orders/not-a-token/checkout/success/?session_id={paid.checkout_session_id}",
    ):
        page.goto(url)
        assert page.get_by_role("heading", level=1).inner_text() == NOT_CONFIRMED, url
        assert "Thank you" not in page.content()
    # then nothing was paid or fulfilled that was not paid at Stripe
    unpaid.refresh_from_db()
    assert unpaid.status == Order.Status.AWAITING_PAYMENT
    assert not Fulfillment.objects.filter(order=unpaid).exists()
    assert_fulfilled_once(paid)
    page.goto(f"{site.url}/orders/{unpaid.public_token}/")
    outcome(page, "awaiting")
    assert_one_confirmation_email(site, paid)


def test_hosted_cancel_returns_to_our_cancel_page(page: Any, site: Any) -> None:
    add_poster_and_check_out(page, site, method="checkout")
    hosted_url = page.url
    order = latest_order()
    page.get_by_role("link", name="Back").click()
    page.wait_for_url(f"{site.url}/orders/{order.public_token}/checkout/cancel/")
    assert page.get_by_role("heading", level=1).inner_text() == "You left the payment page"
    assert f"Order {order.number} is not paid. Nothing was charged." in page.locator("main").inner_text()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    # going back to pay reopens the same session
    page.get_by_role("link", name="Return to payment").click()
    page.wait_for_url(hosted_url)
    assert len(sessions(site)) == 1
