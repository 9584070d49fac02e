"""The staff console in the admin: roles enforced (not only hidden), the refund page with its
confirmation step, the search box, the read-only audit trail and the order's history."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, TestCase
from django.urls import reverse

from console.views import FRAUDULENT_WARNING, MESSAGE_NO_MATCH
from core.security import RECENT_AUTH_KEY
from orders.models import Order
from payments.models import RefundRequest, StaffAction, StripeEvent
from payments.services.refund_requests import ERROR_OVER_REST
from tests.factories import OrderFactory, event, payment_intent, stored_event
from tests.payments.refund_support import paid_at_stripe, stripe_refunds

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]
EVENTS_URL = reverse("admin:payments_stripeevent_changelist")
ORDERS_URL = reverse("admin:orders_order_changelist")


def refund_url(order: Order) -> str:
    return reverse("admin-order-refund", args=[order.pk])


def order_page(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


# ---------------------------------------------------------------------------- roles


def test_support_reads_every_page_and_may_replay_and_resync(
    support_user: User, client_for: ClientFor, queued: list[None]
) -> None:
    client = client_for(support_user)
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)), status="dead")
    for url in (ORDERS_URL, order_page(order), EVENTS_URL, reverse("admin:payments_staffaction_changelist")):
        assert client.get(url).status_code == 200, url
    listing = client.get(EVENTS_URL).content.decode()
    assert 'value="replay"' in listing and 'value="resync"' in listing
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(EVENTS_URL, {"action": "replay", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.source == StripeEvent.Source.REPLAY


def test_a_staff_user_without_a_role_sees_nothing_and_can_do_nothing(
    no_role_user: User, client_for: ClientFor, queued: list[None]
) -> None:
    client = client_for(no_role_user)
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)), status="dead")
    index = client.get(reverse("admin:index")).content.decode()
    assert "Orders" not in index and "Stripe events" not in index
    assert client.get(ORDERS_URL).status_code == 403
    assert client.get(order_page(order)).status_code == 403
    assert client.post(EVENTS_URL, {"action": "replay", "_selected_action": [row.pk]}).status_code == 403
    row.refresh_from_db()
    assert row.status == "dead" and queued == []
    assert client.get(reverse("admin-search"), {"q": order.number}).status_code == 403
    assert client.get(refund_url(order)).status_code == 403


def test_support_cannot_refund_in_the_admin(
    emulator: Any, paid_order: Order, support_user: User, client_for: ClientFor
) -> None:
    client = client_for(support_user)
    assert 'id="refund-link"' not in client.get(order_page(paid_order)).content.decode()
    assert client.get(refund_url(paid_order)).status_code == 403
    posted = client.post(
        refund_url(paid_order),
        {"amount": "42.00", "reason": "duplicate", "form_token": "t", "step": "confirm"},
    )
    assert posted.status_code == 403
    assert stripe_refunds(emulator, paid_order) == [] and not RefundRequest.objects.exists()


# ---------------------------------------------------------------------------- refunds


def test_finance_refunds_part_of_an_order_after_seeing_what_the_customer_gets_back(
    emulator: Any, paid_order: Order, finance_user: User, client_for: ClientFor
) -> None:
    client = client_for(finance_user)
    # given the order page's Refund button and its form, which offers all that is left
    assert f'href="{refund_url(paid_order)}"' in client.get(order_page(paid_order)).content.decode()
    form = client.get(refund_url(paid_order)).content.decode()
    assert 'value="42.00"' in form and "left to refund £42.00" in form
    token = form_token(form)
    # when finance asks for £10.00 and reviews it
    review = client.post(
        refund_url(paid_order),
        {"amount": "10.00", "reason": "requested_by_customer", "form_token": token, "step": "review"},
    ).content.decode()
    # then the confirmation says what the customer gets back, and nothing is refunded yet
    assert "The customer gets back <strong>£10.00</strong>" in review
    assert stripe_refunds(emulator, paid_order) == []
    # when they confirm (twice: a double click)
    confirm = {"amount": "10.00", "reason": "requested_by_customer", "form_token": token, "step": "confirm"}
    done = client.post(refund_url(paid_order), confirm, follow=True)
    client.post(refund_url(paid_order), confirm)
    # then one refund of £10.00 was made and the order page shows it
    (refund,) = stripe_refunds(emulator, paid_order)
    assert refund.amount == 1000
    page = done.content.decode()
    assert done.redirect_chain[-1][0] == order_page(paid_order)
    assert f"Refund of £10.00 for {paid_order.number}: succeeded ({refund.id})." in page
    assert refund.id in page and "£10.00" in page
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PARTIALLY_REFUNDED
    audit = StaffAction.objects.get(action="refund")
    assert (audit.actor, audit.target, audit.reason) == (
        finance_user,
        paid_order.number,
        "requested_by_customer",
    )


def test_the_fraudulent_reason_warns_that_stripe_blocks_the_card(
    emulator: Any, paid_order: Order, finance_user: User, client_for: ClientFor
) -> None:
    client = client_for(finance_user)
    token = form_token(client.get(refund_url(paid_order)).content.decode())
    review = client.post(
        refund_url(paid_order),
        {"amount": "42", "reason": "fraudulent", "form_token": token, "step": "review"},
    ).content.decode()
    assert 'id="fraudulent-warning"' in review and FRAUDULENT_WARNING in review.replace("&#x27;", "'")


def test_more_than_is_left_is_refused_with_a_clear_message(
    emulator: Any, paid_order: Order, finance_user: User, client_for: ClientFor
) -> None:
    client = client_for(finance_user)
    token = form_token(client.get(refund_url(paid_order)).content.decode())
    page = client.post(
        refund_url(paid_order),
        {"amount": "42.01", "reason": "duplicate", "form_token": token, "step": "confirm"},
    ).content.decode()
    assert ERROR_OVER_REST.format(number=paid_order.number, rest="£42.00") in page
    assert stripe_refunds(emulator, paid_order) == [] and not RefundRequest.objects.exists()


def test_an_unpaid_order_cannot_be_reviewed_for_a_refund(finance_user: User, client_for: ClientFor) -> None:
    order = OrderFactory()
    client = client_for(finance_user)
    page = client.post(
        refund_url(order), {"amount": "1.00", "reason": "duplicate", "form_token": "t", "step": "review"}
    ).content.decode()
    assert "is not paid" in page and "customer-gets-back" not in page


# ---------------------------------------------------------------------------- search box


def test_the_search_box_is_on_every_admin_page(support_user: User, client_for: ClientFor) -> None:
    client = client_for(support_user)
    for url in (reverse("admin:index"), ORDERS_URL, EVENTS_URL):
        assert 'id="staff-search"' in client.get(url).content.decode(), url


def test_one_match_opens_it_several_list_them_none_says_so(support_user: User, client_for: ClientFor) -> None:
    client = client_for(support_user)
    order = OrderFactory(stripe_customer_id="cus_two")
    other = OrderFactory(stripe_customer_id="cus_two")
    one = client.get(reverse("admin-search"), {"q": order.payment_intent_id})
    assert (one.status_code, one["Location"]) == (302, order_page(order))
    several = client.get(reverse("admin-search"), {"q": "cus_two"}).content.decode()
    assert "2 records match" in several and order_page(order) in several and order_page(other) in several
    none = client.get(reverse("admin-search"), {"q": "pi_does_not_exist"}).content.decode()
    assert MESSAGE_NO_MATCH.format(query="pi_does_not_exist") in none.replace("&#x27;", "'")


# ---------------------------------------------------------------------------- audit


def test_the_audit_trail_cannot_be_added_changed_or_deleted(admin_client: Any, admin_user: User) -> None:
    action = StaffAction.objects.create(
        actor=admin_user, action="refund", target="ORD-000001", reason="duplicate"
    )
    assert admin_client.get(reverse("admin:payments_staffaction_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_staffaction_delete", args=[action.pk])).status_code == 403
    page = admin_client.get(reverse("admin:payments_staffaction_change", args=[action.pk])).content.decode()
    assert 'name="_save"' not in page and "duplicate" in page


def test_every_money_change_of_an_order_leaves_a_history_row_naming_who(
    emulator: Any, paid_order: Order, finance_user: User, client_for: ClientFor
) -> None:
    # the payment came from Stripe (no staff user); the refund from finance, through the admin
    client = client_for(finance_user)
    token = form_token(client.get(refund_url(paid_order)).content.decode())
    client.post(
        refund_url(paid_order),
        {"amount": "5.00", "reason": "duplicate", "form_token": token, "step": "confirm"},
    )
    rows = list(paid_order.history.order_by("history_date", "history_id"))  # type: ignore[attr-defined]
    assert next(r for r in rows if r.status == "fulfilled").history_user is None
    refunded = [r for r in rows if r.amount_refunded == 500]
    assert refunded and refunded[0].history_user == finance_user
    page = client.get(reverse("admin:orders_order_history", args=[paid_order.pk])).content.decode()
    assert "partially_refunded" in page and "fiona" in page


def test_when_stripe_does_not_answer_the_page_says_so_and_the_same_button_refunds_once(
    emulator: Any, paid_order: Order, finance_user: User, client_for: ClientFor, settings: Any
) -> None:
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    emulator.set_faults(api=[{"kind": "drop_after", "path": "^/v1/refunds", "method": "POST", "count": 1}])
    client = client_for(finance_user)
    token = form_token(client.get(refund_url(paid_order)).content.decode())
    confirm = {"amount": "3.00", "reason": "duplicate", "form_token": token, "step": "confirm"}
    first = client.post(refund_url(paid_order), confirm).content.decode()
    assert "Stripe did not answer" in first and "Refund £3.00" in first  # the same button again
    assert form_token(first) == token
    done = client.post(refund_url(paid_order), confirm, follow=True)
    assert done.redirect_chain[-1][0] == order_page(paid_order)
    assert [r.amount for r in stripe_refunds(emulator, paid_order)] == [300]
    assert RefundRequest.objects.get().status == RefundRequest.Status.SUCCEEDED


def test_a_yen_order_is_refunded_in_whole_yen(
    emulator: Any, finance_user: User, client_for: ClientFor
) -> None:
    order = paid_at_stripe(emulator, amount=1800, currency="jpy")
    client = client_for(finance_user)
    form = client.get(refund_url(order)).content.decode()
    assert 'value="1800"' in form and "left to refund ¥1,800" in form
    token = form_token(form)
    review = client.post(
        refund_url(order), {"amount": "1000", "reason": "duplicate", "form_token": token, "step": "review"}
    ).content.decode()
    assert "The customer gets back <strong>¥1,000</strong>" in review
    fraction = client.post(
        refund_url(order), {"amount": "10.5", "reason": "duplicate", "form_token": token, "step": "review"}
    ).content.decode()
    assert "Give an amount in JPY" in fraction
    client.post(
        refund_url(order), {"amount": "1000", "reason": "duplicate", "form_token": token, "step": "confirm"}
    )
    assert [r.amount for r in stripe_refunds(emulator, order)] == [1000]


def test_the_schema_names_the_consoles_paths(finance_user: User, client_for: ClientFor) -> None:
    schema = (
        client_for(finance_user).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    for path in (
        "/api/staff/search/",
        "/api/finance/orders/{number}/",
        "/api/finance/orders/{number}/refunds/",
    ):
        assert path in schema["paths"], path


def test_refunding_asks_for_the_password_again_after_ten_minutes(
    emulator: Any, paid_order: Order, finance_user: User, client_for: ClientFor
) -> None:
    client = client_for(finance_user)
    session = client.session
    session[RECENT_AUTH_KEY] = int(time.time()) - 11 * 60
    session.save()
    confirm = {
        "amount": "10.00",
        "reason": "requested_by_customer",
        "form_token": "t" * 32,
        "step": "confirm",
    }

    response = client.post(refund_url(paid_order), confirm)

    assert response.status_code == 302 and response["Location"].startswith(reverse("security:confirm"))
    assert stripe_refunds(emulator, paid_order) == []
