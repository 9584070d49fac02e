"""STRIPE_REQUEST_THREE_D_SECURE is sent on every PaymentIntent and Checkout Session, and under
`any` 4242 authenticates on both ways to pay; the order's admin page says whether the fraud
liability shifted to the issuer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order, Product
from payments.models import Charge
from tests.factories import OrderFactory, event
from tests.orders.checkout_support import (  # noqa: F401  (fixtures)
    add_to_cart,
    catalog_fixture,
    place,
    shop_fixture,
    stripe_list,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("policy", ["automatic", "any", "challenge"])
def test_the_policy_goes_on_every_payment_intent_and_checkout_session(
    client: Client, shop: Any, catalog: dict[str, Product], settings: Any, policy: str
) -> None:
    settings.STRIPE_REQUEST_THREE_D_SECURE = policy
    add_to_cart(client, catalog["MUG"], 1)
    place(client)
    [intent] = stripe_list(shop, "payment_intents")
    assert intent["payment_method_options"]["card"]["request_three_d_secure"] == policy

    other = Client()
    add_to_cart(other, catalog["MUG"], 1)
    order = place(other, method="checkout")
    other.get(f"/orders/{order.public_token}/checkout/")
    [session] = stripe_list(shop, "checkout_sessions")
    assert session["payment_method_options"]["card"]["request_three_d_secure"] == policy


def test_under_any_4242_authenticates_then_pays_through_checkout(
    client: Client, shop: Any, catalog: dict[str, Product], settings: Any
) -> None:
    settings.STRIPE_REQUEST_THREE_D_SECURE = "any"
    add_to_cart(client, catalog["MUG"], 1)
    order = place(client, method="checkout")
    client.get(f"/orders/{order.public_token}/checkout/")
    order.refresh_from_db()
    paid = shop.pay_checkout_session(order.checkout_session_id, "4242424242424242")
    assert paid["status"] == "requires_action"
    shop.complete_3ds(paid["payment_intent"]["id"])
    page = client.get(
        f"/orders/{order.public_token}/checkout/success/?session_id={order.checkout_session_id}", follow=True
    )
    assert page.status_code == 200
    order.refresh_from_db()
    assert order.status in (Order.Status.PAID, Order.Status.FULFILLED)
    charge = shop.client().v1.charges.list(params={"payment_intent": paid["payment_intent"]["id"]}).data[0]
    assert charge.payment_method_details.card.three_d_secure.result == "authenticated"


def _paid_with_4242(emulator: Any, process: Any, order: Any, request_3ds: str) -> None:
    """Pay as Stripe.js would under the policy, then mirror the charge from its event."""
    client = emulator.client()
    pi = client.v1.payment_intents.create(
        params={
            "amount": order.amount,
            "currency": order.currency,
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "payment_method_options": {"card": {"request_three_d_secure": request_3ds}},
            "confirm": True,
            "return_url": "https://shop.example/return",
            "metadata": {"order_id": str(order.pk), "order_number": order.number},
        },
        options={"idempotency_key": f"order:{order.pk}:payment-intent:v1"},
    )
    if pi.status == "requires_action":
        emulator.complete_3ds(pi.id)
    Order.objects.filter(pk=order.pk).update(payment_intent_id=pi.id)
    charge = client.v1.charges.list(params={"payment_intent": pi.id}).data[0]
    process(event("charge.succeeded", charge.to_dict()))


def test_the_orders_admin_page_says_whether_the_liability_shift_applies(
    admin_client: Any, emulator: Any, process: Any
) -> None:
    authenticated, plain = OrderFactory(payment_intent_id=None), OrderFactory(payment_intent_id=None)
    _paid_with_4242(emulator, process, authenticated, "any")
    _paid_with_4242(emulator, process, plain, "automatic")

    page = admin_client.get(reverse("admin:orders_order_change", args=[authenticated.pk])).content.decode()
    assert "3-D Secure liability shift" in page
    assert "Applies." in page and "authenticated" in page

    page = admin_client.get(reverse("admin:orders_order_change", args=[plain.pk])).content.decode()
    assert "Does not apply." in page and "3-D Secure was not used" in page


def test_a_mirrored_charge_is_read_from_the_mirror(admin_client: Any) -> None:
    order = OrderFactory()
    Charge.objects.create(
        stripe_id="ch_mirrored_3ds",
        order=order,
        status=Charge.Status.SUCCEEDED,
        amount=order.amount,
        currency=order.currency,
        card_brand="visa",
        three_d_secure_result="authenticated",
        three_d_secure_authentication_flow="frictionless",
    )
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Applies." in page and "frictionless" in page
