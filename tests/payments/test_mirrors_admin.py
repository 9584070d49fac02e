"""Staff see the PaymentIntent and Charge mirrors in the admin, read-only, found by any of their
ids or the order number, and every attempt on the order's own page."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from payments.models import Charge, PaymentIntent
from payments.stripe_gateway import dashboard_url
from tests.factories import ChargeFactory, OrderFactory, PaymentIntentFactory

pytestmark = pytest.mark.django_db

PI_URL = reverse("admin:payments_paymentintent_changelist")
CHARGE_URL = reverse("admin:payments_charge_changelist")


@pytest.fixture
def declined_twice_then_paid() -> tuple[PaymentIntent, list[Charge]]:
    order = OrderFactory(amount=2400)
    intent = PaymentIntentFactory(order=order)
    charges = [
        ChargeFactory(payment_intent=intent, declined=True, card_fingerprint="fpDECLINED0001"),
        ChargeFactory(
            payment_intent=intent,
            declined=True,
            failure_code="expired_card",
            outcome_reason="expired_card",
            card_last4="0069",
        ),
        ChargeFactory(payment_intent=intent, three_d_secure=True, card_last4="3220"),
    ]
    PaymentIntent.objects.filter(pk=intent.pk).update(latest_charge_id=charges[-1].stripe_id)
    return intent, charges


def listing(admin_client: Any, url: str, query: str = "") -> str:
    response = admin_client.get(url, {"q": query} if query else {})
    assert response.status_code == 200
    return response.content.decode()


def test_mirrors_are_listed_with_money_formatted_and_found_by_any_of_their_ids(
    admin_client: Any, declined_twice_then_paid: tuple[PaymentIntent, list[Charge]]
) -> None:
    intent, (first, second, paid) = declined_twice_then_paid
    other = ChargeFactory()
    order = intent.order
    assert order is not None
    # PaymentIntents: by id, by order number, by latest charge
    page = listing(admin_client, PI_URL)
    assert intent.stripe_id in page and "£24.00" in page
    for query in (intent.stripe_id, order.number, paid.stripe_id):
        found = listing(admin_client, PI_URL, query)
        assert intent.stripe_id in found and other.payment_intent.stripe_id not in found, query
    # Charges: by id, by order number (every attempt), by card fingerprint
    by_order = listing(admin_client, CHARGE_URL, order.number)
    assert all(ch.stripe_id in by_order for ch in (first, second, paid)) and other.stripe_id not in by_order
    by_fingerprint = listing(admin_client, CHARGE_URL, "fpDECLINED0001")
    assert first.stripe_id in by_fingerprint and second.stripe_id not in by_fingerprint
    by_id = listing(admin_client, CHARGE_URL, second.stripe_id)
    assert second.stripe_id in by_id and "expired_card" in by_id and paid.stripe_id not in by_id


def test_mirrors_are_read_only(
    admin_client: Any, declined_twice_then_paid: tuple[PaymentIntent, list[Charge]]
) -> None:
    intent, charges = declined_twice_then_paid
    for model, obj in (("paymentintent", intent), ("charge", charges[-1])):
        assert admin_client.get(reverse(f"admin:payments_{model}_add")).status_code == 403
        change_url = reverse(f"admin:payments_{model}_change", args=[obj.pk])
        page = admin_client.get(change_url).content.decode()
        assert obj.stripe_id in page
        assert 'name="_save"' not in page and "Delete" not in page
        admin_client.post(change_url, {"status": "canceled", "amount": 1})
        assert admin_client.get(reverse(f"admin:payments_{model}_delete", args=[obj.pk])).status_code == 403
    intent.refresh_from_db()
    assert (intent.status, intent.amount) == ("succeeded", 2400)


def test_a_charge_page_shows_its_outcome_and_3d_secure(
    admin_client: Any, declined_twice_then_paid: tuple[PaymentIntent, list[Charge]]
) -> None:
    intent, (_, _, paid) = declined_twice_then_paid
    page = admin_client.get(reverse("admin:payments_charge_change", args=[paid.pk])).content.decode()
    assert "authenticated" in page and "challenge" in page and "2.2.0" in page
    assert paid.balance_transaction_id in page
    assert reverse("admin:payments_paymentintent_change", args=[intent.pk]) in page
    assert dashboard_url(object_id=paid.stripe_id, livemode=False) in page


def test_the_order_page_lists_its_payment_intent_and_every_attempt_with_its_outcome(
    admin_client: Any, declined_twice_then_paid: tuple[PaymentIntent, list[Charge]]
) -> None:
    intent, charges = declined_twice_then_paid
    assert intent.order is not None
    page = admin_client.get(reverse("admin:orders_order_change", args=[intent.order.pk])).content.decode()
    assert "Charge attempts" in page
    for obj in (intent, *charges):
        model = obj._meta.model_name
        assert reverse(f"admin:payments_{model}_change", args=[obj.pk]) in page
    # the outcomes, in words staff read: two declines with their reasons, then 3-D Secure passed
    assert page.count("issuer_declined") == 2
    assert "insufficient_funds" in page and "expired_card" in page
    assert "authenticated (challenge)" in page
    assert "visa ···· 3220" in page
    assert page.count("£24.00") >= 4  # the PaymentIntent and each attempt
    # in the order they were made
    attempts = page[page.index("Charge attempts") :]
    positions = [attempts.index(ch.stripe_id) for ch in charges]
    assert positions == sorted(positions)
