"""The session cart: what a customer, a stale tab or a tampered form can send it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from orders.cart import SESSION_KEY
from orders.models import Order, Product
from tests.orders.checkout_support import catalog_fixture  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def cart_of(client: Client) -> dict[str, int]:
    return dict(client.session.get(SESSION_KEY) or {})


def add_to_cart(client: Client, product: Product, quantity: int = 1) -> Any:
    """Add as the product page's form does, and read the page it lands on (its messages)."""
    return client.post("/cart/add/", {"product_id": product.pk, "quantity": quantity}, follow=True)


def test_adding_and_changing_quantities_totals_on_the_server(client: Client, catalog: dict[str, Any]) -> None:
    add_to_cart(client, catalog["POSTER"], 2)
    add_to_cart(client, catalog["MUG"])
    page = client.get("/cart/").content.decode()
    assert "£60.50" in page  # 2 × £24.00 + £12.50
    client.post("/cart/update/", {"product_id": catalog["POSTER"].pk, "quantity": 1})
    assert "£36.50" in client.get("/cart/").content.decode()
    client.post("/cart/update/", {"product_id": catalog["MUG"].pk, "quantity": 0})
    assert cart_of(client) == {str(catalog["POSTER"].pk): 1}


@pytest.mark.parametrize(
    "form",
    [
        {"product_id": "999999", "quantity": "1"},  # no such product
        {"product_id": str(10**30), "quantity": "1"},  # beyond any integer column
        {"product_id": "abc", "quantity": "1"},
        {"product_id": "", "quantity": "1"},
        {"quantity": "1"},
        {"product_id": "-1", "quantity": "1"},
        {"product_id": "{pk}", "quantity": "0"},
        {"product_id": "{pk}", "quantity": "-3"},
        {"product_id": "{pk}", "quantity": "21"},
        {"product_id": "{pk}", "quantity": "1e3"},
        {"product_id": "{pk}", "quantity": "1", "unit_amount": "1", "price": "1"},  # ignored extras
    ],
)
def test_bad_additions_change_nothing_but_ignored_extras(
    client: Client, catalog: dict[str, Product], form: dict[str, str]
) -> None:
    add_to_cart(client, catalog["MUG"])
    before = cart_of(client)
    data = {key: value.replace("{pk}", str(catalog["POSTER"].pk)) for key, value in form.items()}
    response = client.post("/cart/add/", data, follow=True)
    assert response.status_code == 200
    if "unit_amount" in form:  # a tampered price adds the product at the catalog's price
        assert cart_of(client)[str(catalog["POSTER"].pk)] == 1
        assert "£36.50" in client.get("/cart/").content.decode()
        return
    assert cart_of(client) == before
    messages = [str(message) for message in response.context["messages"]]
    assert messages and ("not available" in messages[0] or "quantity" in messages[0])


def test_an_inactive_product_cannot_be_added_and_drops_out_of_a_cart(
    client: Client, catalog: dict[str, Product]
) -> None:
    add_to_cart(client, catalog["POSTER"])
    add_to_cart(client, catalog["MUG"])
    Product.objects.filter(pk=catalog["MUG"].pk).update(active=False)
    assert "That product is not available." in add_to_cart(client, catalog["MUG"]).content.decode()
    page = client.get("/cart/").content.decode()
    assert "Note G mug" not in page
    assert "£24.00" in page


def test_a_product_in_another_currency_is_refused_with_a_reason(
    client: Client, catalog: dict[str, Product]
) -> None:
    add_to_cart(client, catalog["POSTER"])
    response = add_to_cart(client, catalog["TENUGUI"])
    assert "Your cart is in GBP; Soroban tenugui is priced in JPY." in response.content.decode()
    assert list(cart_of(client)) == [str(catalog["POSTER"].pk)]


def test_updating_a_line_that_is_not_in_the_cart_changes_nothing(
    client: Client, catalog: dict[str, Product]
) -> None:
    add_to_cart(client, catalog["POSTER"])
    for data in (
        {"product_id": catalog["MUG"].pk, "quantity": 3},
        {"product_id": catalog["POSTER"].pk, "quantity": 99},
        {"product_id": catalog["POSTER"].pk, "quantity": "x"},
    ):
        client.post("/cart/update/", data)
    assert cart_of(client) == {str(catalog["POSTER"].pk): 1}


def test_cart_pages_refuse_the_wrong_method(client: Client) -> None:
    assert client.get("/cart/add/").status_code == 405
    assert client.get("/cart/update/").status_code == 405
    assert client.delete("/cart/").status_code == 405


def test_checking_out_an_empty_cart_makes_no_order(client: Client, catalog: dict[str, Product]) -> None:
    response = client.post("/checkout/", {"email": "ada@example.com"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("/cart/")
    assert Order.objects.count() == 0
