"""Staff find events and orders by any id, replay events and re-sync objects from Stripe; every
action leaves an audit row."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import TestCase
from django.urls import reverse

from orders.models import Fulfillment, Order
from payments.models import StaffAction, StripeEvent
from tests.factories import OrderFactory, event, payment_intent, stored_event

pytestmark = pytest.mark.django_db

EVENTS_URL = reverse("admin:payments_stripeevent_changelist")
ORDERS_URL = reverse("admin:orders_order_changelist")


def test_events_are_listed_with_filters_and_found_by_event_or_object_id(
    admin_client: Any, settings: Any
) -> None:
    settings.STRIPE_API_BASE = ""  # real Stripe
    order = OrderFactory()
    mine = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    other = stored_event(event("charge.failed", {"id": "ch_other", "object": "charge"}), status="dead")

    listing = admin_client.get(EVENTS_URL).content.decode()
    for text in ("By status", "By source", "By type", mine.stripe_id, other.stripe_id):
        assert text in listing
    by_event = admin_client.get(EVENTS_URL, {"q": mine.stripe_id}).content.decode()
    assert mine.stripe_id in by_event and other.stripe_id not in by_event
    by_object = admin_client.get(EVENTS_URL, {"q": "ch_other"}).content.decode()
    assert other.stripe_id in by_object and mine.stripe_id not in by_object
    dead = admin_client.get(EVENTS_URL, {"status__exact": "dead"}).content.decode()
    assert other.stripe_id in dead and mine.stripe_id not in dead
    detail = admin_client.get(reverse("admin:payments_stripeevent_change", args=[mine.pk])).content.decode()
    assert f"https://dashboard.stripe.com/test/payments/{order.payment_intent_id}" in detail
    assert f"https://dashboard.stripe.com/test/events/{mine.stripe_id}" in detail


def test_the_replay_action_requeues_and_audits(
    admin_client: Any, admin_user: Any, queued: list[None]
) -> None:
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)), status="dead", attempts=8)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            EVENTS_URL, {"action": "replay", "_selected_action": [row.pk]}, follow=True
        )
    assert "1 event(s) queued" in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.source, row.attempts) == ("pending", "replay", 0)
    assert queued == [None]
    action = StaffAction.objects.get()
    assert (action.actor, action.action, action.target) == (admin_user, "replay_event", row.stripe_id)


def test_the_resync_action_fetches_the_object_from_stripe_and_applies_it(
    admin_client: Any, admin_user: Any, pay: Callable[..., str]
) -> None:
    # given an order paid at Stripe whose events we only have a stale one of
    order = OrderFactory(payment_intent_id=None)
    pi_id = pay(order)
    order.refresh_from_db()
    row = stored_event(event("payment_intent.processing", payment_intent(order, status="processing")))
    # when staff re-sync it
    response = admin_client.post(EVENTS_URL, {"action": "resync", "_selected_action": [row.pk]}, follow=True)
    # then the PaymentIntent Stripe has now is applied
    assert f"{pi_id} re-synced: {order.number} is fulfilled".lower() in response.content.decode().lower()
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Fulfillment.objects.filter(order=order).count() == 1
    action = StaffAction.objects.get()
    assert (action.actor, action.action, action.target) == (admin_user, "resync", pi_id)


def test_the_order_resync_action(admin_client: Any, pay: Callable[..., str]) -> None:
    order = OrderFactory(payment_intent_id=None)
    pay(order)
    admin_client.post(ORDERS_URL, {"action": "resync", "_selected_action": [order.pk]})
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


@pytest.mark.parametrize("field", ["number", "payment_intent_id", "checkout_session_id", "email"])
def test_orders_are_found_by_number_pi_cs_or_email(admin_client: Any, field: str) -> None:
    order = OrderFactory(checkout_session_id="cs_test_find_me", email="find.me@example.com")
    other = OrderFactory()
    query = order.number if field == "number" else getattr(order, field)
    page = admin_client.get(ORDERS_URL, {"q": query}).content.decode()
    assert f"/admin/orders/order/{order.pk}/change/" in page
    assert f"/admin/orders/order/{other.pk}/change/" not in page


def test_the_order_page_links_to_the_stripe_dashboard(admin_client: Any, settings: Any) -> None:
    settings.STRIPE_API_BASE = ""  # real Stripe
    order = OrderFactory()
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert f"https://dashboard.stripe.com/test/payments/{order.payment_intent_id}" in page
    assert order.number in page


def test_against_the_emulator_the_admin_links_to_the_emulators_page_for_the_object(
    admin_client: Any, settings: Any
) -> None:
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    order_page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    event_url = reverse("admin:payments_stripeevent_change", args=[row.pk])
    event_page = admin_client.get(event_url).content.decode()
    assert f'href="http://127.0.0.1:12111/_emulator/objects/{order.payment_intent_id}"' in order_page
    assert f'href="http://127.0.0.1:12111/_emulator/objects/{row.stripe_id}"' in event_page
    assert "dashboard.stripe.com" not in order_page + event_page


def test_events_cannot_be_added_or_deleted_from_the_admin(admin_client: Any) -> None:
    row = stored_event(event("charge.failed", {"id": "ch_1", "object": "charge"}))
    assert admin_client.get(reverse("admin:payments_stripeevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_stripeevent_delete", args=[row.pk])).status_code == 403
    assert StripeEvent.objects.count() == 1
