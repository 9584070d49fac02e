"""Every payment test card of docs.stripe.com/testing, as a pm_card_* id and as a raw number."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

OK, ACTION = "succeeded", "requires_action"

# (number, pm alias or None, expected status or (code, decline_code) for a 402)
CARDS: list[tuple[str, str | None, Any]] = [
    ("4242424242424242", "pm_card_visa", OK),
    ("5555555555554444", "pm_card_mastercard", OK),
    ("4000000000000002", "pm_card_visa_chargeDeclined", ("card_declined", "generic_decline")),
    (
        "4000000000009995",
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        ("card_declined", "insufficient_funds"),
    ),
    ("4000000000009987", "pm_card_visa_chargeDeclinedLostCard", ("card_declined", "lost_card")),
    ("4000000000009979", "pm_card_visa_chargeDeclinedStolenCard", ("card_declined", "stolen_card")),
    ("4000000000000069", "pm_card_chargeDeclinedExpiredCard", ("expired_card", "expired_card")),
    ("4000000000000127", "pm_card_chargeDeclinedIncorrectCvc", ("incorrect_cvc", "incorrect_cvc")),
    ("4000000000000119", "pm_card_chargeDeclinedProcessingError", ("processing_error", "processing_error")),
    (
        "4000000000006975",
        "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
        ("card_declined", "card_velocity_exceeded"),
    ),
    ("4000000000000341", "pm_card_chargeCustomerFail", ("card_declined", "generic_decline")),
    ("4100000000000019", "pm_card_radarBlock", ("card_declined", "fraudulent")),
    ("4000002500003155", "pm_card_authenticationRequiredOnSetup", ACTION),
    ("4000002760003184", "pm_card_authenticationRequired", ACTION),
    ("4000003800000446", "pm_card_authenticationRequiredSetupForOffSession", ACTION),
    ("4000008260003178", "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds", ACTION),
    ("4000000000003220", "pm_card_threeDSecure2Required", ACTION),
    ("4000008400000027", None, ACTION),
    ("4000008400001629", "pm_card_threeDSecureRequiredChargeDeclined", ACTION),
    (
        "4000008400001280",
        "pm_card_threeDSecureRequiredProcessingError",
        ("card_declined", "processing_error"),
    ),
    ("4000000000003055", "pm_card_threeDSecureOptional", OK),
    ("378282246310005", "pm_card_amex_threeDSecureNotSupported", OK),
    ("4000000032200000", None, OK),
    ("4000000000000259", "pm_card_createDispute", OK),
    ("4000000000002685", "pm_card_createDisputeProductNotReceived", OK),
    ("4000000000001976", "pm_card_createDisputeInquiry", OK),
    ("4000000000005423", "pm_card_createIssuerFraudRecord", OK),
    ("4000000000007726", "pm_card_pendingRefund", OK),
    ("4000000000005126", "pm_card_refundFail", OK),
    ("4000000000000077", "pm_card_bypassPending", OK),
]


def _pay(client: Any, pm: str) -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": pm,
            "confirm": True,
            "return_url": "https://shop.example/return",
        }
    )


def _check(client: Any, pm: str, expected: Any) -> None:
    if isinstance(expected, tuple):
        with pytest.raises(stripe.CardError) as exc:
            _pay(client, pm)
        code, decline_code = expected
        assert exc.value.http_status == 402
        assert exc.value.code == code
        assert exc.value.error.decline_code == decline_code
        pi = exc.value.error.payment_intent
        assert pi.status == "requires_payment_method"
        assert pi.last_payment_error.code == code
        assert pi.last_payment_error.payment_method.id.startswith("pm_")
        charge = client.v1.charges.retrieve(pi.latest_charge)
        assert charge.status == "failed" and charge.paid is False and charge.failure_code == code
        types = [e.type for e in client.v1.events.list(params={"limit": 3}).data]
        assert types[:2] == ["payment_intent.payment_failed", "charge.failed"]
    else:
        pi = _pay(client, pm)
        assert pi.status == expected
        if expected == OK:
            charge = client.v1.charges.retrieve(pi.latest_charge)
            assert charge.paid and charge.captured and charge.balance_transaction.startswith("txn_")
        else:
            assert pi.next_action.type == "redirect_to_url"
            assert pi.next_action.redirect_to_url.return_url == "https://shop.example/return"


@pytest.mark.parametrize(("number", "alias", "expected"), [c for c in CARDS if c[1]], ids=lambda v: str(v))
def test_card_as_pm_alias(client: Any, number: str, alias: str, expected: Any) -> None:
    _check(client, alias, expected)


@pytest.mark.parametrize(("number", "alias", "expected"), CARDS, ids=lambda v: str(v))
def test_card_as_raw_number(client: Any, number: str, alias: str | None, expected: Any) -> None:
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    assert pm.card.last4 == number[-4:]
    _check(client, pm.id, expected)


def test_incorrect_number_fails_luhn(client: Any) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424241", "exp_month": 12, "exp_year": 2034}}
        )
    assert exc.value.code == "incorrect_number"


def test_frictionless_card_records_3ds(client: Any) -> None:
    pm = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4000000032200000", "exp_month": 12, "exp_year": 2034}}
    )
    pi = _pay(client, pm.id)
    tds = client.v1.charges.retrieve(pi.latest_charge).payment_method_details.card.three_d_secure
    assert tds.authentication_flow == "frictionless" and tds.result == "authenticated"


def test_charge_customer_fail_attaches_but_declines_and_issuer_declines_cannot_attach(client: Any) -> None:
    cus = client.v1.customers.create(params={"email": "x@example.com"})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": cus.id})
    assert pm.customer == cus.id
    events = client.v1.events.list(params={"type": "payment_method.attached"}).data
    assert events[0].data.object.id == pm.id
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(
            params={
                "amount": 900,
                "currency": "usd",
                "customer": cus.id,
                "payment_method": pm.id,
                "confirm": True,
            }
        )
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.attach("pm_card_visa_chargeDeclined", params={"customer": cus.id})
    assert exc.value.error.decline_code == "generic_decline"


def test_off_session_authentication_required(stripe_emulator: EmulatorHandle, client: Any) -> None:
    cus = client.v1.customers.create(params={})
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(
            params={
                "amount": 900,
                "currency": "usd",
                "customer": cus.id,
                "payment_method": "pm_card_authenticationRequired",
                "confirm": True,
                "off_session": True,
            }
        )
    assert exc.value.code == "authentication_required"
    # 4000002500003155 needs no authentication off-session once it is set up (attached).
    pm = client.v1.payment_methods.attach(
        "pm_card_authenticationRequiredOnSetup", params={"customer": cus.id}
    )
    pi = client.v1.payment_intents.create(
        params={
            "amount": 900,
            "currency": "usd",
            "customer": cus.id,
            "payment_method": pm.id,
            "confirm": True,
            "off_session": True,
        }
    )
    assert pi.status == "succeeded"
