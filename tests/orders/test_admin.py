"""The order's admin page as staff read it: money formatted, addresses as lines with the country
by name, nothing that looks editable."""

from typing import Any

import pytest
from django.urls import reverse

from orders.models import OrderItem
from tests.factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db

ORDERS_URL = reverse("admin:orders_order_changelist")


def test_the_order_page_shows_money_formatted_and_addresses_as_lines(admin_client: Any) -> None:
    # given an order of two posters at £24.00, shipped to Dublin
    order = OrderFactory(
        amount=4800,
        amount_refunded=500,
        shipping_address={
            "line1": "1 Merrion Square",
            "line2": "Flat 2",
            "city": "Dublin",
            "postal_code": "D02 XY45",
            "country": "IE",
        },
    )
    OrderItemFactory(order=order, unit_amount=2400, quantity=2)
    # when staff open it
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    # then money reads as money, in the items too
    assert "£48.00" in page and "£5.00" in page
    assert "£24.00" in page  # the unit price
    assert ">2400<" not in page and ">4800<" not in page
    # and the addresses read like an envelope, with the country's name
    assert "12 St James&#x27;s Square<br>London SW1Y 4JH<br>United Kingdom" in page
    assert "1 Merrion Square<br>Flat 2<br>Dublin D02 XY45<br>Ireland" in page
    assert '"line1"' not in page and "&quot;line1&quot;" not in page


def test_the_order_list_shows_totals_formatted(admin_client: Any) -> None:
    OrderFactory(amount=2400, currency="gbp")
    OrderFactory(amount=1500, currency="jpy")
    listing = admin_client.get(ORDERS_URL).content.decode()
    assert "£24.00" in listing and "¥1,500" in listing


def test_the_order_page_has_no_save_buttons_and_cannot_be_changed(admin_client: Any) -> None:
    order = OrderFactory(email="before@example.com")
    OrderItemFactory(order=order)
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "Close" in page
    # a crafted POST changes nothing either
    assert admin_client.post(url, {"email": "after@example.com"}).status_code == 403
    order.refresh_from_db()
    assert order.email == "before@example.com"
    assert OrderItem.objects.filter(order=order).count() == 1
