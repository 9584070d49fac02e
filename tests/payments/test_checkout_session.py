"""Checkout with Stripe Checkout, server side, against the emulator: the session we create, the
success page that fetches the session itself, and the links that must change nothing."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from orders.models import Fulfillment, Order, Product
from payments.models import Charge, PaymentIntent
from payments.services import checkout as checkout_services
from tests.orders.checkout_support import (  # noqa: F401  (fixtures)
    add_to_cart,
    catalog_fixture,
    place,
    shop_fixture,
    stripe_list,
    stripe_writes_fixture,
)

pytestmark = pytest.mark.django_db


def start(client: Client, product: Product, quantity: int = 1, **overrides: Any) -> tuple[Order, str]:
    add_to_cart(client, product, quantity)
    order = place(client, method="checkout", **overrides)
    response = client.get(f"/orders/{order.public_token}/checkout/")
    assert response.status_code == 303
    order.refresh_from_db()
    return order, response["Location"]


def test_the_checkout_session_carries_our_order_and_catalog_prices(
    client: Client, shop: Any, catalog: dict[str, Product], stripe_writes: list[Any]
) -> None:
    # when the customer chooses Stripe Checkout
    add_to_cart(client, catalog["MUG"], 2)
    order = place(client, method="checkout", price="1")
    redirect = client.get(f"/orders/{order.public_token}/checkout/")
    order.refresh_from_db()
    # then they are sent to the session's hosted page
    assert redirect.status_code == 303
    [session] = stripe_list(shop, "checkout_sessions")
    assert redirect["Location"] == session["url"]
    assert session["id"] == order.checkout_session_id
    assert order.status == Order.Status.AWAITING_PAYMENT
    # created once, under the order's own key (a retry reaches Stripe as the same request)
    [(_, create)] = [write for write in stripe_writes if write[0] == "checkout_session_create"]
    assert create["idempotency_key"] == f"order:{order.pk}:checkout-session:v1"
    assert create["ids"] == {"order": order.number}
    # built from our catalog and order
    assert session["client_reference_id"] == order.number
    assert session["metadata"]["order_number"] == order.number
    assert session["customer"] == order.stripe_customer_id
    assert session["amount_total"] == 2500
    assert session["currency"] == "gbp"
    items = shop.client().v1.checkout.sessions.line_items.list(session["id"]).data
    assert [(item.description, item.quantity, item.price.unit_amount) for item in items] == [
        ("Note G mug", 2, 1250)
    ]
    # each line's product names our SKU (for finding the catalog row from the Stripe Dashboard)
    assert create["params"]["line_items"] == [
        {
            "quantity": 2,
            "price_data": {
                "currency": "gbp",
                "unit_amount": 1250,
                "product_data": {"name": "Note G mug", "metadata": {"sku": "MUG"}},
            },
        }
    ]
    assert session["success_url"] == (
        f"http://testserver/orders/{order.public_token}/checkout/success/?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert session["cancel_url"] == f"http://testserver/orders/{order.public_token}/checkout/cancel/"
    assert 30 * 60 <= session["expires_at"] - time.time() <= 24 * 3600
    # and the PaymentIntent it makes carries the order number and the dispute data
    result = shop.pay_checkout_session(session["id"], "pm_card_visa")
    intent = result["payment_intent"]
    assert intent["metadata"]["order_number"] == order.number
    assert intent["receipt_email"] == "ada@example.com"
    assert intent["shipping"]["address"]["city"] == "London"
    assert intent["description"].startswith(order.number)


@pytest.mark.parametrize(
    ("site_url", "site"),
    [("http://testserver/", "http://testserver"), ("https://shop.example/EU-X", "https://shop.example/EU-X")],
    ids=["trailing-slash", "path-ending-in-x"],
)
def test_the_sessions_return_addresses_are_the_sites_even_with_a_trailing_slash(
    client: Client, shop: Any, catalog: dict[str, Product], settings: Any, site_url: str, site: str
) -> None:
    settings.SITE_URL = site_url
    order, _ = start(client, catalog["MUG"])
    [session] = stripe_list(shop, "checkout_sessions")
    token = order.public_token
    assert session["success_url"] == (
        f"{site}/orders/{token}/checkout/success/?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert session["cancel_url"] == f"{site}/orders/{token}/checkout/cancel/"


def test_the_same_order_reuses_its_open_session(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    order, url = start(client, catalog["POSTER"])
    again = client.get(f"/orders/{order.public_token}/checkout/")
    assert again["Location"] == url
    resubmitted = place(client, method="checkout")
    assert resubmitted.pk == order.pk
    assert len(stripe_list(shop, "checkout_sessions")) == 1


def test_the_success_page_fetches_the_session_and_fulfills_once(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    order, _ = start(client, catalog["POSTER"])
    result = shop.pay_checkout_session(order.checkout_session_id, "4242424242424242")
    success = urlparse(result["redirect_url"])
    # when the browser lands on the success URL, twice (a reload)
    first = client.get(success.path, parse_qs(success.query))
    second = client.get(success.path, parse_qs(success.query))
    # then the order is paid and fulfilled once, and the customer sees it
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    # fulfilled once, recorded for staff as the success page's fetch of this very session
    assert list(Fulfillment.objects.filter(order=order).values_list("source", flat=True)) == [
        f"success-page:{order.checkout_session_id}"
    ]
    assert first.status_code == second.status_code == 302
    page = client.get(first["Location"]).content.decode()
    assert 'data-outcome="paid"' in page
    # and the success page's own fetch mirrored the PaymentIntent and its charge
    mirror = PaymentIntent.objects.get(order=order)
    assert (mirror.stripe_id, mirror.status, mirror.amount_received) == (
        order.payment_intent_id,
        "succeeded",
        order.amount,
    )
    (charge,) = Charge.objects.filter(order=order)
    assert (charge.status, charge.paid, charge.amount) == ("succeeded", True, order.amount)


def test_the_order_page_of_a_paid_session_fulfills_it_once_and_then_stops_asking_stripe(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a paid session whose customer never reached the success page (the tab was closed)
    order, _ = start(client, catalog["POSTER"])
    shop.pay_checkout_session(order.checkout_session_id, "pm_card_visa")
    checkout_services.OrderCheckout.objects.filter(order=order).update(synced_at=None)
    # when they open their order page
    page = client.get(f"/orders/{order.public_token}/").content.decode()
    # then it shows the order paid, fulfilled once, recorded for staff as the return page's fetch
    assert 'data-outcome="paid"' in page
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert list(Fulfillment.objects.filter(order=order).values_list("source", flat=True)) == ["return-page"]
    # and once it is settled, a later visit asks Stripe nothing
    fetched: list[str] = []
    for name in ("checkout_session_retrieve", "payment_intent_retrieve"):
        monkeypatch.setattr(checkout_services.stripe_gateway, name, lambda **kw: fetched.append(str(kw)))
    checkout_services.OrderCheckout.objects.filter(order=order).update(synced_at=None)
    assert 'data-outcome="paid"' in client.get(f"/orders/{order.public_token}/").content.decode()
    assert fetched == []


def test_the_success_url_without_paying_shows_nothing_and_changes_nothing(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = start(client, catalog["POSTER"])
    base = f"/orders/{order.public_token}/checkout/success/"
    calls: list[str] = []
    real = checkout_services.stripe_gateway.checkout_session_retrieve
    monkeypatch.setattr(
        checkout_services.stripe_gateway,
        "checkout_session_retrieve",
        lambda **kw: calls.append(kw["session_id"]) or real(**kw),
    )
    # visited directly, with the template placeholder, with a made-up id
    for query in ("", "?session_id=", "?session_id={CHECKOUT_SESSION_ID}", "?session_id=cs_test_madeup"):
        response = client.get(base + query)
        assert response.status_code == 200
        body = response.content.decode()
        assert "We couldn't confirm a payment from this link" in body
        assert "Thank you" not in body
        assert order.number not in body
    assert calls == []  # made-up ids are not even sent to Stripe
    # with the order's own session, not paid yet
    response = client.get(base, {"session_id": order.checkout_session_id})
    assert "We couldn't confirm a payment" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not Fulfillment.objects.filter(order=order).exists()


def test_the_success_url_of_an_order_without_a_session_asks_stripe_nothing(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an order paying with the Payment Element (no Checkout Session of its own)
    add_to_cart(client, catalog["POSTER"])
    order = place(client, method="payment_element")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        checkout_services.stripe_gateway, "checkout_session_retrieve", lambda **kw: calls.append(kw)
    )
    # when its success URL is opened with no session id, a blank one or a made-up one
    for query in ("", "?session_id=", "?session_id=%20", "?session_id=cs_test_madeup"):
        response = client.get(f"/orders/{order.public_token}/checkout/success/{query}")
        # then the neutral page, and nothing sent to Stripe
        assert "We couldn't confirm a payment from this link" in response.content.decode()
    assert calls == []
    order.refresh_from_db()
    assert (order.status, order.checkout_session_id) == (Order.Status.AWAITING_PAYMENT, None)


def test_another_orders_paid_session_on_this_orders_success_url_changes_nothing(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given two orders, the first one paid
    paid, _ = start(client, catalog["POSTER"])
    shop.pay_checkout_session(paid.checkout_session_id, "pm_card_visa")
    other_customer = Client()
    unpaid, _ = start(other_customer, catalog["MUG"])
    # when the paid session id is used with the unpaid order's token
    response = other_customer.get(
        f"/orders/{unpaid.public_token}/checkout/success/", {"session_id": paid.checkout_session_id}
    )
    # and the unpaid session with the paid order's token
    client.get(f"/orders/{paid.public_token}/checkout/success/", {"session_id": unpaid.checkout_session_id})
    # then nothing moved
    assert "We couldn't confirm a payment" in response.content.decode()
    unpaid.refresh_from_db()
    assert unpaid.status == Order.Status.AWAITING_PAYMENT
    assert not Fulfillment.objects.filter(order=unpaid).exists()
    # an unknown token is the same neutral page
    assert (
        "We couldn't confirm" in client.get("/orders/nope/checkout/success/?session_id=cs_x").content.decode()
    )


def test_a_session_whose_reference_is_not_ours_is_refused(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = start(client, catalog["POSTER"])
    shop.pay_checkout_session(order.checkout_session_id, "pm_card_visa")
    real = checkout_services.stripe_gateway.checkout_session_retrieve
    monkeypatch.setattr(
        checkout_services.stripe_gateway,
        "checkout_session_retrieve",
        lambda **kw: {**real(**kw), "client_reference_id": "ORD-999999"},
    )
    assert (
        checkout_services.checkout_session_confirm(order=order, session_id=order.checkout_session_id) is False
    )
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def _success_page_sees(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """The success page's fetch of the session returns Stripe's session with `changes` (a state
    the emulator's card payments never reach: an asynchronous payment, a session that owed nothing)."""
    real = checkout_services.stripe_gateway.checkout_session_retrieve
    monkeypatch.setattr(
        checkout_services.stripe_gateway,
        "checkout_session_retrieve",
        lambda **kw: {**real(**kw), **changes},
    )


def test_a_session_that_needed_no_payment_is_confirmed_and_fulfilled_by_the_success_page(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a completed session that Stripe says needed no payment (nothing to pay: no PaymentIntent)
    order, _ = start(client, catalog["POSTER"])
    shop.pay_checkout_session(order.checkout_session_id, "pm_card_visa")
    _success_page_sees(monkeypatch, payment_status="no_payment_required", payment_intent=None)
    # when the customer lands on the success page
    response = client.get(
        f"/orders/{order.public_token}/checkout/success/", {"session_id": order.checkout_session_id}
    )
    # then they are sent to their order, paid and fulfilled once by the success page's fetch
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.public_token}/"
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert list(Fulfillment.objects.filter(order=order).values_list("source", flat=True)) == [
        f"success-page:{order.checkout_session_id}"
    ]


def test_a_completed_session_whose_payment_is_still_on_its_way_is_not_confirmed(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a completed session whose (asynchronous) payment Stripe has not received yet
    order, _ = start(client, catalog["POSTER"])
    shop.pay_checkout_session(order.checkout_session_id, "pm_card_visa")
    _success_page_sees(monkeypatch, payment_status="unpaid")
    # when the customer lands on the success page
    response = client.get(
        f"/orders/{order.public_token}/checkout/success/", {"session_id": order.checkout_session_id}
    )
    # then no payment is confirmed and the order is neither paid nor fulfilled
    assert response.status_code == 200
    assert "We couldn't confirm a payment from this link" in response.content.decode()
    assert (
        checkout_services.checkout_session_confirm(order=order, session_id=order.checkout_session_id) is False
    )
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not Fulfillment.objects.filter(order=order).exists()


def test_when_stripe_does_not_answer_the_success_page_confirms_nothing_until_it_does(
    client: Client, shop: Any, catalog: dict[str, Product], settings: Any
) -> None:
    # given a paid session, and Stripe failing every fetch of a session
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    order, _ = start(client, catalog["POSTER"])
    shop.pay_checkout_session(order.checkout_session_id, "pm_card_visa")
    shop.set_faults(api=[{"kind": "error", "path": "^/v1/checkout/sessions/", "method": "GET"}])
    success = f"/orders/{order.public_token}/checkout/success/"
    # when the customer lands on the success page
    response = client.get(success, {"session_id": order.checkout_session_id})
    # then it confirms nothing and changes nothing
    assert response.status_code == 200
    assert "We couldn't confirm a payment from this link" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not Fulfillment.objects.filter(order=order).exists()
    # and once Stripe answers again, a reload confirms the payment
    shop.clear_faults()
    assert client.get(success, {"session_id": order.checkout_session_id})["Location"] == (
        f"/orders/{order.public_token}/"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_an_order_gets_its_session_while_31_minutes_of_it_are_left_and_not_a_second_later(
    client: Client, shop: Any, catalog: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a Checkout order; its session would expire an hour after the order was placed
    add_to_cart(client, catalog["POSTER"])
    order = place(client, method="checkout")
    expires_at = order.created_at + timedelta(hours=1)

    def at(moment: datetime) -> None:
        monkeypatch.setattr(checkout_services, "timezone", SimpleNamespace(now=lambda: moment))

    # when the customer goes to pay with one second less than 31 minutes of it left
    at(expires_at - timedelta(minutes=31) + timedelta(seconds=1))
    with pytest.raises(checkout_services.CheckoutUnavailable):
        checkout_services.checkout_session_open(order=order)
    # then no session (Stripe wants 30 minutes at least, and the customer needs time to pay)
    assert stripe_list(shop, "checkout_sessions") == []
    # and with exactly 31 minutes left, the session, expiring an hour after the order
    at(expires_at - timedelta(minutes=31))
    url = checkout_services.checkout_session_open(order=order)
    [session] = stripe_list(shop, "checkout_sessions")
    assert (url, session["expires_at"]) == (session["url"], int(expires_at.timestamp()))


def test_the_cancel_page_changes_nothing_and_offers_to_go_back(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    order, url = start(client, catalog["POSTER"])
    page = client.get(f"/orders/{order.public_token}/checkout/cancel/").content.decode()
    assert "Nothing was charged" in page
    assert f"/orders/{order.public_token}/checkout/" in page
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert client.get(f"/orders/{order.public_token}/checkout/")["Location"] == url


def test_an_expired_session_shows_the_expired_page(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    order, _ = start(client, catalog["POSTER"])
    shop.client().v1.checkout.sessions.expire(order.checkout_session_id)
    checkout_services.OrderCheckout.objects.filter(order=order).update(synced_at=None)
    page = client.get(f"/orders/{order.public_token}/").content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    assert 'data-outcome="expired"' in page
    assert "expired" in page
    # and going to pay again does not reopen it
    assert client.get(f"/orders/{order.public_token}/checkout/")["Location"].endswith(
        f"/orders/{order.public_token}/"
    )


def test_a_changed_cart_expires_the_open_session_and_makes_a_new_order(
    client: Client, shop: Any, catalog: dict[str, Product], stripe_writes: list[Any]
) -> None:
    order, _ = start(client, catalog["POSTER"])
    add_to_cart(client, catalog["MUG"], 1)
    new, _ = start(client, catalog["MUG"])
    assert new.pk != order.pk
    # expired once, under the old order's own key (a retry expires the same session, nothing else)
    expired = [write for write in stripe_writes if write[0] == "checkout_session_expire"]
    assert expired == [
        (
            "checkout_session_expire",
            {
                "session_id": order.checkout_session_id,
                "idempotency_key": f"order:{order.pk}:checkout-session-expire:v1",
            },
        )
    ]
    sessions = {s["id"]: s for s in stripe_list(shop, "checkout_sessions")}
    assert sessions[order.checkout_session_id]["status"] == "expired"
    assert sessions[new.checkout_session_id]["amount_total"] == 2400 + 2 * 1250


def test_an_order_paying_with_the_payment_element_never_gets_a_checkout_session_too(
    client: Client, shop: Any, catalog: dict[str, Product]
) -> None:
    # given an order with its own PaymentIntent
    add_to_cart(client, catalog["POSTER"])
    order = place(client, method="payment_element")
    assert client.get(f"/orders/{order.public_token}/pay/").status_code == 200
    # when its hosted-checkout link is opened (typed in, or an old bookmark)
    response = client.get(f"/orders/{order.public_token}/checkout/")
    # then it goes back to the card page, and Stripe has one payable object for the order
    assert response["Location"] == f"/orders/{order.public_token}/pay/"
    assert stripe_list(shop, "checkout_sessions") == []
    order.refresh_from_db()
    with pytest.raises(checkout_services.CheckoutUnavailable):
        checkout_services.checkout_session_open(order=order)
    assert stripe_list(shop, "checkout_sessions") == []
