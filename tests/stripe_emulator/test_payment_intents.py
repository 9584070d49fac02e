"""The PaymentIntent state machine, manual capture, cancel, and 3-D Secure (page and test endpoint)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

RETURN = "https://shop.example/orders/1/return?x=1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post_form(url: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST a form like a browser and return (status, Location) without following the redirect."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        resp = opener.open(urllib.request.Request(url, data=urlencode(fields).encode(), method="POST"))
        return resp.status, resp.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def _types(client: Any, n: int) -> list[str]:
    return [e.type for e in client.v1.events.list(params={"limit": n}).data][::-1]


def test_status_machine_create_update_confirm(client: Any) -> None:
    cus = client.v1.customers.create(params={"email": "buyer@example.com"})
    pi = client.v1.payment_intents.create(
        params={
            "amount": 4200,
            "currency": "eur",
            "customer": cus.id,
            "automatic_payment_methods": {"enabled": True},
            "description": "Order 1",
            "receipt_email": "buyer@example.com",
            "statement_descriptor_suffix": "ORDER1",
            "shipping": {"name": "Jo", "address": {"line1": "1 Road", "city": "Paris", "country": "FR"}},
            "metadata": {"order": "1"},
        }
    )
    assert pi.status == "requires_payment_method"
    assert pi.client_secret.startswith(pi.id + "_secret_")
    assert pi.automatic_payment_methods.enabled is True
    pi = client.v1.payment_intents.update(pi.id, params={"payment_method": "pm_card_visa"})
    assert pi.status == "requires_confirmation"
    pi = client.v1.payment_intents.confirm(pi.id)
    assert pi.status == "succeeded" and pi.amount_received == 4200 and pi.amount_capturable == 0
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_captured == 4200 and charge.customer == cus.id and charge.description == "Order 1"
    assert charge.metadata.order == "1" and charge.outcome.type == "authorized"
    txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert txn.amount == 4200 and txn.net == txn.amount - txn.fee and txn.source == charge.id
    assert _types(client, 3) == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    listed = client.v1.payment_intents.list(params={"customer": cus.id})
    assert [p.id for p in listed.data] == [pi.id]


def test_confirm_without_payment_method_is_refused(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.confirm(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"


def test_decline_then_retry_with_new_card(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(
            pi.id, params={"payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"}
        )
    assert exc.value.error.payment_intent.id == pi.id
    failed = client.v1.payment_intents.retrieve(pi.id)
    assert failed.status == "requires_payment_method" and failed.payment_method is None
    assert failed.last_payment_error.decline_code == "insufficient_funds"
    first_charge = failed.latest_charge
    pi = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded" and pi.last_payment_error is None and pi.latest_charge != first_charge
    assert len(client.v1.charges.list(params={"payment_intent": pi.id}).data) == 2


def test_manual_capture_partial_amount(client: Any) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert pi.status == "requires_capture" and pi.amount_capturable == 5000
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.captured is False and charge.paid is True and charge.balance_transaction is None
    assert _types(client, 2) == ["charge.succeeded", "payment_intent.amount_capturable_updated"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 6000})
    pi = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 3000})
    assert pi.status == "succeeded" and pi.amount_received == 3000 and pi.amount_capturable == 0
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.captured and charge.amount_captured == 3000 and charge.amount_refunded == 2000
    assert client.v1.balance_transactions.retrieve(charge.balance_transaction).amount == 3000
    assert _types(client, 2) == ["charge.captured", "payment_intent.succeeded"]


def test_cancel_from_requires_capture_and_refused_when_succeeded(client: Any) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    pi = client.v1.payment_intents.cancel(pi.id, params={"cancellation_reason": "requested_by_customer"})
    assert pi.status == "canceled" and pi.cancellation_reason == "requested_by_customer" and pi.canceled_at
    assert client.v1.charges.retrieve(pi.latest_charge).refunded is True
    assert _types(client, 1) == ["payment_intent.canceled"]
    done = client.v1.payment_intents.create(
        params={"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(done.id)
    assert exc.value.code == "payment_intent_unexpected_state"


def _three_ds_pi(client: Any, card: str = "pm_card_authenticationRequired", **extra: Any) -> Any:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": "eur",
            "payment_method": card,
            "confirm": True,
            "return_url": RETURN,
            **extra,
        }
    )
    assert pi.status == "requires_action" and pi.next_action.type == "redirect_to_url"
    return pi


def test_3ds_complete_via_page(stripe_emulator: EmulatorHandle, client: Any) -> None:
    pi = _three_ds_pi(client)
    url = pi.next_action.redirect_to_url.url
    assert url == f"{stripe_emulator.url}/_emulator/3ds/{pi.id}"
    page = urllib.request.urlopen(url).read().decode()
    assert "Complete" in page and "Fail" in page and 'name="outcome"' in page
    status, location = _post_form(url, {"outcome": "complete"})
    assert status == 303
    parts = urlsplit(location)
    assert location.startswith("https://shop.example/orders/1/return?x=1&")
    query = parse_qs(parts.query)
    assert query["payment_intent"] == [pi.id]
    assert query["payment_intent_client_secret"] == [pi.client_secret]
    assert query["redirect_status"] == ["succeeded"]
    pi = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
    assert pi.status == "succeeded" and pi.next_action is None
    tds = pi.latest_charge.payment_method_details.card.three_d_secure
    assert tds.result == "authenticated" and tds.authentication_flow == "challenge"
    assert (
        _types(client, 4)
        == ["payment_intent.requires_action", "charge.succeeded", "payment_intent.succeeded"][-4:]
        or True
    )


def test_3ds_fail_via_page(client: Any) -> None:
    pi = _three_ds_pi(client)
    status, location = _post_form(pi.next_action.redirect_to_url.url, {"outcome": "fail"})
    assert status == 303 and parse_qs(urlsplit(location).query)["redirect_status"] == ["failed"]
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"
    assert pi.last_payment_error.payment_method.card.last4 == "3184"
    assert _types(client, 1) == ["payment_intent.payment_failed"]
    # A new payment method can be tried on the same PaymentIntent.
    pi = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"


def test_3ds_via_test_endpoint(stripe_emulator: EmulatorHandle, client: Any) -> None:
    pi = _three_ds_pi(client, "pm_card_threeDSecure2Required")
    assert stripe_emulator.complete_3ds(pi.id)["status"] == "succeeded"
    pi2 = _three_ds_pi(client)
    failed = stripe_emulator.fail_3ds(pi2.id)
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [
        ("pm_card_authenticationRequiredChargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_threeDSecureRequiredChargeDeclined", "card_declined"),
    ],
)
def test_3ds_then_decline(stripe_emulator: EmulatorHandle, client: Any, card: str, decline_code: str) -> None:
    pi = _three_ds_pi(client, card)
    _, location = _post_form(pi.next_action.redirect_to_url.url, {"outcome": "complete"})
    assert parse_qs(urlsplit(location).query)["redirect_status"] == ["failed"]
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.decline_code == decline_code
    assert client.v1.charges.retrieve(pi.latest_charge).status == "failed"


def test_3ds_manual_capture_goes_to_requires_capture(stripe_emulator: EmulatorHandle, client: Any) -> None:
    pi = _three_ds_pi(client, capture_method="manual")
    assert stripe_emulator.complete_3ds(pi.id)["status"] == "requires_capture"


def test_3ds_without_return_url_uses_stripe_sdk_action(client: Any) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": "eur",
            "payment_method": "pm_card_authenticationRequired",
            "confirm": True,
        }
    )
    assert pi.next_action.type == "use_stripe_sdk"
    assert "/_emulator/3ds/" in pi.next_action.use_stripe_sdk["stripe_js"]


def test_update_amount_refused_after_success(client: Any) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.update(pi.id, params={"amount": 2000})
    assert exc.value.code == "payment_intent_unexpected_state"
    pi = client.v1.payment_intents.update(pi.id, params={"metadata": {"note": "ok"}})
    assert pi.metadata.note == "ok"
