"""What a customer meets on the order pages: country names, a way back to the order from a link
that could not be confirmed, and an icon instead of a 404 on every page."""

import pytest
from django.test import Client

from orders.models import Order
from tests.factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


def test_the_order_page_shows_the_country_by_name(client: Client) -> None:
    order = OrderFactory(status=Order.Status.FULFILLED)
    OrderItemFactory(order=order)
    page = client.get(f"/orders/{order.public_token}/").content.decode()
    delivery = page.split('id="delivery-address"')[1].split("</p>")[0]
    assert "United Kingdom" in delivery
    assert "GB" not in delivery
    assert "12 St James&#x27;s Square" in delivery and "London SW1Y 4JH" in delivery


def test_an_unconfirmed_success_link_leads_back_to_the_order_it_named(client: Client) -> None:
    order = OrderFactory()
    page = client.get(f"/orders/{order.public_token}/checkout/success/?session_id=cs_test_madeup")
    body = page.content.decode()
    assert "We couldn't confirm a payment from this link" in body
    assert f'href="/orders/{order.public_token}/">Go to your order</a>' in body
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_an_unconfirmed_link_with_an_unknown_order_offers_only_the_shop(client: Client) -> None:
    body = client.get("/orders/not-a-token/checkout/success/?session_id=cs_x").content.decode()
    assert "We couldn't confirm a payment from this link" in body
    assert "Go to your order" not in body
    assert "Back to the shop" in body


def test_every_page_gets_its_icon(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/").content.decode()
