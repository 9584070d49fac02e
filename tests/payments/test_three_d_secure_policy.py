"""STRIPE_REQUEST_THREE_D_SECURE is sent on every PaymentIntent and Checkout Session, and under
`any` 4242 authenticates on both ways to pay; the order's admin page says whether the fraud
liability shifted to the issuer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from orders.models import Order, Product
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
