"""`payment_method_options[card][request_three_d_secure]`: `any` and `challenge` send 4242 through
3-D Secure, and the charge's `three_d_secure` says how it went; `automatic` stays as it was."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

TEA = {"currency": "gbp", "unit_amount": 1500, "product_data": {"name": "Tea"}}


def _pay(client: Any, card: str, request: str | None, **more: Any) -> Any:
    if not card.startswith("pm_"):  # a raw number, as Stripe.js would send it
        number = {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        card = client.v1.payment_methods.create(params={"type": "card", "card": number}).id
    card_params = {"payment_method": card}
    params: dict[str, Any] = {
        "amount": 2000,
        "currency": "gbp",
        **card_params,
        "payment_method_types": ["card"],
        "confirm": True,
        "return_url": "https://shop.example/return",
        **more,
    }
    if request:
        params["payment_method_options"] = {"card": {"request_three_d_secure": request}}
    return client.v1.payment_intents.create(params=params)


def _three_ds(client: Any, pi: Any) -> Any:
    return client.v1.charges.retrieve(pi.latest_charge).payment_method_details.card.three_d_secure


def test_automatic_lets_4242_through_without_authentication(client: Any) -> None:
    pi = _pay(client, "pm_card_visa", "automatic")
    assert pi.status == "succeeded" and _three_ds(client, pi) is None
    assert pi.payment_method_options.card.request_three_d_secure == "automatic"


@pytest.mark.parametrize("request_3ds", ["any", "challenge"])
def test_any_and_challenge_ask_4242_to_authenticate(
    stripe_emulator: EmulatorHandle, client: Any, request_3ds: str
) -> None:
    pi = _pay(client, "pm_card_visa", request_3ds)
    assert pi.status == "requires_action" and pi.next_action.type == "redirect_to_url"
    assert pi.payment_method_options.card.request_three_d_secure == request_3ds
    stripe_emulator.complete_3ds(pi.id)
    pi = client.v1.payment_intents.retrieve(pi.id)
    three_ds = _three_ds(client, pi)
    assert pi.status == "succeeded"
    assert three_ds.result == "authenticated" and three_ds.authentication_flow == "challenge"


def test_any_leaves_the_frictionless_card_frictionless_and_challenge_challenges_it(client: Any) -> None:
    frictionless = _pay(client, "4000000032200000", "any")
    assert frictionless.status == "succeeded"
    assert _three_ds(client, frictionless).authentication_flow == "frictionless"
    assert _pay(client, "4000000032200000", "challenge").status == "requires_action"


def test_a_card_without_3ds_and_off_session_payments_are_not_asked(client: Any) -> None:
    assert _pay(client, "378282246310005", "any").status == "succeeded"


def test_a_declining_card_authenticates_then_declines(stripe_emulator: EmulatorHandle, client: Any) -> None:
    pi = _pay(client, "pm_card_chargeDeclined", "any")
    assert pi.status == "requires_action"
    stripe_emulator.complete_3ds(pi.id)
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method" and pi.last_payment_error.code == "card_declined"


def test_a_checkout_session_passes_it_to_its_payment_intent(
    stripe_emulator: EmulatorHandle, client: Any
) -> None:
    cs = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "https://shop.example/ok",
            "line_items": [{"price_data": TEA, "quantity": 1}],
            "payment_method_options": {"card": {"request_three_d_secure": "any"}},
        }
    )
    assert cs.payment_method_options.card.request_three_d_secure == "any"
    paid = stripe_emulator.pay_checkout_session(cs.id, "4242424242424242")
    assert paid["status"] == "requires_action"


def test_an_unknown_value_is_refused(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        _pay(client, "pm_card_visa", "always")
