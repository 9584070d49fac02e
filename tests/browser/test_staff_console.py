"""Staff journeys in the admin, in Chromium: find an order by its pi_, refund part of it and see
the refund arrive from Stripe's webhook; a Support user cannot refund; an unknown id."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from core.roles import FINANCE, SUPPORT
from orders.models import Order
from payments.models import RefundRequest
from tests.browser.steps import staff_log_in, wait_for
from tests.factories import OrderFactory
from tests.payments.refund_support import emulator_pay

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-staff-password"


def staff_user(username: str, role: str) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def log_in(page: Any, site: Any, username: str) -> None:
    staff_log_in(page, site.url, username, PASSWORD)
    page.wait_for_selector("#staff-search")


def paid_order(site: Any, card: str = "pm_card_visa") -> Order:
    """An order paid at the emulator; its webhooks mark it paid here."""
    order = OrderFactory(payment_intent_id=None)
    emulator_pay(site.emulator, order, card=card)
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    order.refresh_from_db()
    return order


def search(page: Any, query: str) -> None:
    page.get_by_label("Find any id").fill(query)
    page.get_by_role("button", name="Find").click()


def test_finance_finds_an_order_by_its_payment_intent_and_refunds_part_of_it(page: Any, site: Any) -> None:
    # a card whose refunds stay pending until Stripe settles them (a refund.updated webhook)
    order = paid_order(site, card="pm_card_pendingRefund")
    staff_user("fiona", FINANCE)
    log_in(page, site, "fiona")

    search(page, order.payment_intent_id)
    page.wait_for_url(re.compile(rf"/admin/orders/order/{order.pk}/change/$"))
    assert order.number in page.locator("#content").inner_text()

    page.get_by_role("link", name="Refund", exact=True).click()
    assert "left to refund £42.00" in page.locator("#refund-summary").inner_text()
    page.get_by_label("Amount to refund").fill("10.00")
    page.get_by_label("Requested by the customer").check()
    page.get_by_role("button", name="Review the refund").click()
    assert "The customer gets back £10.00" in page.locator("#customer-gets-back").inner_text()
    page.get_by_role("button", name="Refund £10.00").click()

    page.wait_for_url(re.compile(rf"/admin/orders/order/{order.pk}/change/$"))
    # Stripe's answer: the refund is pending
    assert (
        f"Refund of £10.00 for {order.number}: pending at stripe" in page.locator(".messagelist").inner_text()
    )
    request = RefundRequest.objects.get(order=order)
    # Stripe settles the refund and tells us by webhook; the order page shows it once it is in
    assert wait_for(lambda: RefundRequest.objects.get(pk=request.pk).status == RefundRequest.Status.SUCCEEDED)
    page.reload()
    refunds = page.locator("#refund_requests-group").inner_text()
    assert request.stripe_refund_id and request.stripe_refund_id in refunds
    assert "£10.00" in refunds and "Succeeded" in refunds
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1000)
    assert (
        len(site.emulator.client().v1.refunds.list(params={"payment_intent": order.payment_intent_id}).data)
        == 1
    )


def test_a_support_user_cannot_refund(page: Any, site: Any) -> None:
    order = paid_order(site)
    staff_user("sam", SUPPORT)
    log_in(page, site, "sam")
    search(page, order.number)
    page.wait_for_url(re.compile(rf"/admin/orders/order/{order.pk}/change/$"))
    assert page.get_by_role("link", name="Refund", exact=True).count() == 0
    response = page.goto(f"{site.url}/admin/orders/order/{order.pk}/refund/")
    assert response is not None and response.status == 403
    assert not RefundRequest.objects.exists()


def test_searching_for_an_unknown_id_says_so(page: Any, site: Any) -> None:
    staff_user("sam", SUPPORT)
    log_in(page, site, "sam")
    search(page, "pi_3NotAnythingWeKnow")
    assert "No record matches “pi_3NotAnythingWeKnow”." in page.locator("#search-message").inner_text()
