"""Checkout Sessions: create, expand line_items, pay (incl. 3DS and declines), expire, clock expiry."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

SUCCESS = "https://shop.example/success?session_id={CHECKOUT_SESSION_ID}"


def _session(client: Any, **extra: Any) -> Any:
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {"currency": "eur", "unit_amount": 1250, "product_data": {"name": "Mug"}},
                "quantity": 2,
            },
            {
                "price_data": {"currency": "eur", "unit_amount": 500, "product_data": {"name": "Tea"}},
                "quantity": 1,
            },
        ],
        "success_url": SUCCESS,
        "cancel_url": "https://shop.example/cart",
        "client_reference_id": "order-17",
        "metadata": {"order": "17"},
        "payment_intent_data": {"metadata": {"order": "17"}, "description": "Order 17"},
    }
    params.update(extra)
    return client.v1.checkout.sessions.create(params=params)


def test_create_with_price_data_and_expand_line_items(stripe_emulator: EmulatorHandle, client: Any) -> None:
    cs = _session(client, customer_email="buyer@example.com")
    assert cs.id.startswith("cs_test_") and cs.object == "checkout.session"
    assert cs.status == "open" and cs.payment_status == "unpaid" and cs.payment_intent is None
    assert cs.amount_total == 3000 and cs.currency == "eur"
    assert cs.url == f"{stripe_emulator.url}/c/pay/{cs.id}"
    assert cs.expires_at - cs.created == 24 * 3600
    assert "line_items" not in cs
    got = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["line_items"]})
    items = got.line_items.data
    assert [(i.description, i.quantity, i.amount_total) for i in items] == [("Mug", 2, 2500), ("Tea", 1, 500)]
    assert items[0].price.unit_amount == 1250 and items[0].object == "item"
    listed = client.v1.checkout.sessions.line_items.list(cs.id, params={"limit": 1})
    assert len(listed.data) == 1 and listed.has_more is True


def test_create_with_catalog_price(client: Any) -> None:
    product = client.v1.products.create(params={"name": "Poster"})
    price = client.v1.prices.create(params={"product": product.id, "unit_amount": 900, "currency": "usd"})
    cs = client.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 3}], "success_url": SUCCESS}
    )
    assert cs.amount_total == 2700
    assert [p.id for p in client.v1.prices.list(params={"product": product.id}).data] == [price.id]


def test_validation_errors(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {"price_data": {"currency": "eur", "unit_amount": 100, "product_data": {"name": "x"}}}
                ],
            }
        )
    assert exc.value.code == "parameter_missing" and exc.value.error.param == "line_items[0][quantity]"
    with pytest.raises(stripe.InvalidRequestError):
        _session(client, expires_at=int(time.time()) + 60)


def test_pay_completes_session(stripe_emulator: EmulatorHandle, client: Any) -> None:
    cs = _session(client, customer_email="buyer@example.com")
    result = stripe_emulator.pay_checkout_session(cs.id, "4242424242424242")
    assert result["status"] == "complete"
    assert result["redirect_url"] == f"https://shop.example/success?session_id={cs.id}"
    cs = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["payment_intent"]})
    assert cs.status == "complete" and cs.payment_status == "paid"
    assert cs.payment_intent.status == "succeeded" and cs.payment_intent.amount_received == 3000
    assert cs.payment_intent.metadata.order == "17" and cs.payment_intent.description == "Order 17"
    assert cs.customer_details.email == "buyer@example.com"
    event = client.v1.events.list(params={"type": "checkout.session.completed"}).data[0]
    assert event.data.object.id == cs.id and event.data.object.payment_status == "paid"
    assert (
        client.v1.checkout.sessions.list(params={"payment_intent": cs.payment_intent.id}).data[0].id == cs.id
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(cs.id)
    again = stripe_emulator.pay_checkout_session(cs.id, "4242424242424242")
    assert again["status"] == "complete" and again["error"]


def test_decline_keeps_session_open_then_another_card_pays(
    stripe_emulator: EmulatorHandle, client: Any
) -> None:
    cs = _session(client)
    result = stripe_emulator.pay_checkout_session(cs.id, "pm_card_visa_chargeDeclined")
    assert result["status"] == "failed" and result["error"]["decline_code"] == "generic_decline"
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"
    assert stripe_emulator.pay_checkout_session(cs.id, "5555555555554444")["status"] == "complete"
    cs = client.v1.checkout.sessions.retrieve(cs.id)
    assert cs.payment_status == "paid"
    # The Checkout-owned PaymentIntent cannot be cancelled directly.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(cs.payment_intent)


def test_pay_with_3ds_redirects_to_success_url(stripe_emulator: EmulatorHandle, client: Any) -> None:
    cs = _session(client)
    result = stripe_emulator.pay_checkout_session(cs.id, "4000002760003184")
    assert result["status"] == "requires_action"
    assert result["redirect_url"].startswith(f"{stripe_emulator.url}/_emulator/3ds/pi_")
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(result["redirect_url"], data=b"outcome=complete", method="POST"))
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 303
        assert exc.headers["Location"] == f"https://shop.example/success?session_id={cs.id}"
    cs = client.v1.checkout.sessions.retrieve(cs.id)
    assert cs.status == "complete" and cs.payment_status == "paid"


def test_expire_and_clock_expiry(stripe_emulator: EmulatorHandle, client: Any) -> None:
    cs = _session(client)
    expired = client.v1.checkout.sessions.expire(cs.id)
    assert expired.status == "expired" and expired.url is None
    assert client.v1.events.list(params={"type": "checkout.session.expired"}).data[0].data.object.id == cs.id
    assert stripe_emulator.pay_checkout_session(cs.id, "4242424242424242")["status"] == "expired"

    later = _session(client, expires_at=int(cs.created) + 3600)
    stripe_emulator.advance_clock(3601)
    assert client.v1.checkout.sessions.retrieve(later.id).status == "expired"
    expired_ids = [
        e.data.object.id for e in client.v1.events.list(params={"type": "checkout.session.expired"}).data
    ]
    assert later.id in expired_ids


def test_expiry_cancels_a_declined_sessions_payment_intent(
    stripe_emulator: EmulatorHandle, client: Any
) -> None:
    cs = _session(client)
    result = stripe_emulator.pay_checkout_session(cs.id, "pm_card_visa_chargeDeclined")
    pi_id = result["payment_intent"]["id"]
    stripe_emulator.advance_clock(25 * 3600)
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "expired"
    assert client.v1.payment_intents.retrieve(pi_id).status == "canceled"
