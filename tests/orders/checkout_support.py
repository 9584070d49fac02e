"""Shared pieces of the checkout tests (imported by tests/orders/test_cart.py and
tests/payments/test_checkout_*.py): a seeded catalog, a client with a cart, the checkout form.

Modules that use the fixtures import `catalog_fixture` and `shop_fixture` (named `catalog` and
`shop` for the tests)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from orders.models import Order, Product
from payments import stripe_gateway

SECRET_MARKERS = re.compile(r"sk_test_|sk_live_|rk_test_|rk_live_|whsec_")


@pytest.fixture(name="catalog")
def catalog_fixture(db: Any) -> dict[str, Product]:
    rows = [
        ("POSTER", "Analytical Engine poster", 2400, "gbp"),
        ("MUG", "Note G mug", 1250, "gbp"),
        ("TENUGUI", "Soroban tenugui", 1800, "jpy"),
    ]
    return {
        sku: Product.objects.create(sku=sku, name=name, unit_amount=amount, currency=currency)
        for sku, name, amount, currency in rows
    }


@pytest.fixture(name="shop")
def shop_fixture(emulator: Any, settings: Any, catalog: dict[str, Product]) -> Any:
    """The emulator as Stripe, the site at the test client's address."""
    settings.SITE_URL = "http://testserver"
    settings.STRIPE_PUBLISHABLE_KEY = emulator.publishable_key
    settings.STRIPE_JS_URL = emulator.url + "/v3/"
    return emulator


def add_to_cart(client: Client, product: Product, quantity: int = 1, **extra: Any) -> Any:
    return client.post("/cart/add/", {"product_id": product.pk, "quantity": quantity, **extra})


def checkout_data(form_token: str = "form-token-0000000000001", **overrides: Any) -> dict[str, Any]:
    data = {
        "form_token": form_token,
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "billing_line1": "12 St James's Square",
        "billing_city": "London",
        "billing_postal_code": "SW1Y 4JH",
        "billing_country": "GB",
        "shipping_same": "on",
        "method": "payment_element",
    }
    data.update(overrides)
    return data


def form_token(client: Client) -> str:
    """Open the checkout page as the customer would and read the form's token."""
    page = client.get("/checkout/").content.decode()
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, page[:2000]
    return match.group(1)


def place(client: Client, **overrides: Any) -> Order:
    """Submit the checkout form (a fresh one unless `form_token` is given) and return the order."""
    overrides.setdefault("form_token", form_token(client))
    response = client.post(
        "/checkout/", checkout_data(**overrides), HTTP_USER_AGENT="Mozilla/5.0 (checkout test)"
    )
    assert response.status_code in (302, 303), response.content.decode()[:2000]
    return Order.objects.order_by("-pk").first()  # type: ignore[return-value]


def stripe_list(emulator: Any, kind: str) -> list[dict[str, Any]]:
    client = emulator.client()
    service = {
        "payment_intents": client.v1.payment_intents,
        "checkout_sessions": client.v1.checkout.sessions,
        "customers": client.v1.customers,
    }[kind]
    return [obj.to_dict() for obj in service.list({"limit": 100}).data]


@pytest.fixture(name="stripe_writes")
def stripe_writes_fixture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every write the checkout sends to Stripe (still reaching the emulator): its name and arguments."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def spy(name: str, real: Any) -> Any:
        def call(**kwargs: Any) -> Any:
            calls.append((name, kwargs))
            return real(**kwargs)

        return call

    for name in (
        "payment_intent_update",
        "payment_intent_cancel",
        "checkout_session_create",
        "checkout_session_expire",
    ):
        monkeypatch.setattr(stripe_gateway, name, spy(name, getattr(stripe_gateway, name)))
    return calls
