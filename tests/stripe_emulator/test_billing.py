"""Emulator part 3 through the SDK: saved cards, SetupIntents, subscriptions, invoices, renewals."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

DAY = 86400


def _plan(client: Any) -> str:
    price = client.v1.prices.create(
        params={
            "currency": "gbp",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Reading room"},
        }
    )
    return str(price.id)


def _subscribe(client: Any, price: str, card: str) -> tuple[Any, Any]:
    """A `default_incomplete` subscription whose first invoice is confirmed with `card`."""
    cus = client.v1.customers.create(params={"email": "ada@example.com"})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    assert sub.status == "incomplete"
    assert sub.latest_invoice.status == "open"
    secret = sub.latest_invoice.confirmation_secret.client_secret
    pi_id = secret.split("_secret_")[0]
    pi = client.v1.payment_intents.confirm(pi_id, params={"payment_method": card})
    return client.v1.subscriptions.retrieve(sub.id), pi


def _switch_card(client: Any, sub: Any, card: str) -> None:
    """The saved card becomes one that attaches but declines every charge from now on."""
    pm = client.v1.payment_methods.attach(card, params={"customer": sub.customer})
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": pm.id})


def _events(client: Any, type_: str) -> list[Any]:
    return list(client.v1.events.list(params={"type": type_, "limit": 100}).data)


def _invoice_pi(client: Any, invoice_id: str) -> Any:
    payments = client.v1.invoice_payments.list(
        params={"invoice": invoice_id, "expand": ["data.payment.payment_intent"]}
    )
    return payments.data[0].payment.payment_intent


def test_subscribing_with_4242_activates_and_saves_the_card(client: Any) -> None:
    sub, pi = _subscribe(client, _plan(client), "pm_card_visa")
    assert pi.status == "succeeded"
    assert sub.status == "active"
    assert sub.default_payment_method
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 900
    assert invoice.parent.subscription_details.subscription == sub.id
    assert "payment_intent" not in invoice  # 2025 shape: invoice payments instead
    payment = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data[0]
    assert payment.status == "paid" and payment.payment.payment_intent == pi.id
    types = [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]
    for expected in ("customer.subscription.created", "invoice.created", "invoice.finalized", "invoice.paid"):
        assert expected in types
    assert types.index("customer.subscription.created") < types.index("invoice.paid")


def test_3155_needs_authentication_once_then_renews_off_session(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    sub, pi = _subscribe(client, _plan(client), "pm_card_authenticationRequiredOnSetup")
    assert pi.status == "requires_action" and sub.status == "incomplete"
    stripe_emulator.complete_3ds(pi.id)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    stripe_emulator.advance_clock(32 * DAY)
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed.status == "active"
    assert renewed.latest_invoice != sub.latest_invoice
    assert client.v1.invoices.retrieve(renewed.latest_invoice).status == "paid"
    assert renewed["items"].data[0].current_period_start > sub["items"].data[0].current_period_start


def test_renewal_declined_then_recovered_by_a_retry(client: Any, stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.configure_account(invoice_retry_hours=[24, 48])
    sub, _ = _subscribe(client, _plan(client), "pm_card_visa")
    _switch_card(client, sub, "pm_card_chargeCustomerFail")
    stripe_emulator.advance_clock(31 * DAY + 60)
    past_due = client.v1.subscriptions.retrieve(sub.id)
    assert past_due.status == "past_due"
    invoice = client.v1.invoices.retrieve(past_due.latest_invoice)
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert invoice.next_payment_attempt is not None
    assert [e.data.object.id for e in _events(client, "invoice.payment_failed")] == [invoice.id]
    # the customer saves a good card; the next retry takes it
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": sub.customer})
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": card.id})
    stripe_emulator.advance_clock(DAY)
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_every_retry_failing_ends_the_subscription(client: Any, stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.configure_account(invoice_retry_hours=[24, 48])
    sub, _ = _subscribe(client, _plan(client), "pm_card_visa")
    _switch_card(client, sub, "pm_card_chargeCustomerFail")
    stripe_emulator.advance_clock(31 * DAY + 60)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    stripe_emulator.advance_clock(DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    stripe_emulator.advance_clock(DAY)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at is not None
    invoice = client.v1.invoices.retrieve(ended.latest_invoice)
    assert invoice.attempt_count == 3 and invoice.next_payment_attempt is None
    assert len(_events(client, "invoice.payment_failed")) == 3
    assert [e.data.object.id for e in _events(client, "customer.subscription.deleted")] == [sub.id]


def test_after_retries_setting_unpaid(client: Any, stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.configure_account(invoice_retry_hours=[24], subscription_after_retries="unpaid")
    sub, _ = _subscribe(client, _plan(client), "pm_card_visa")
    _switch_card(client, sub, "pm_card_chargeCustomerFail")
    stripe_emulator.advance_clock(32 * DAY + 60)
    assert client.v1.subscriptions.retrieve(sub.id).status == "unpaid"


def test_renewal_needing_authentication_is_completed_by_the_customer(
    client: Any, stripe_emulator: EmulatorHandle
) -> None:
    sub, pi = _subscribe(client, _plan(client), "pm_card_authenticationRequired")
    stripe_emulator.complete_3ds(pi.id)
    stripe_emulator.advance_clock(31 * DAY + 60)
    renewed = client.v1.subscriptions.retrieve(sub.id)
    assert renewed.status == "past_due"
    [action] = _events(client, "invoice.payment_action_required")
    assert action.data.object.id == renewed.latest_invoice
    renewal_pi = _invoice_pi(client, renewed.latest_invoice)
    assert renewal_pi.status == "requires_action"
    stripe_emulator.complete_3ds(renewal_pi.id)
    assert client.v1.invoices.retrieve(renewed.latest_invoice).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_cancel_at_period_end_and_cancel_now(client: Any, stripe_emulator: EmulatorHandle) -> None:
    price = _plan(client)
    sub, _ = _subscribe(client, price, "pm_card_visa")
    updated = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert updated.status == "active" and updated.cancel_at == sub["items"].data[0].current_period_end
    stripe_emulator.advance_clock(10 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    stripe_emulator.advance_clock(25 * DAY)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled" and ended.ended_at == updated.cancel_at
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 1  # no renewal
    other, _ = _subscribe(client, price, "pm_card_visa")
    assert client.v1.subscriptions.cancel(other.id).status == "canceled"
    assert {e.data.object.id for e in _events(client, "customer.subscription.deleted")} == {sub.id, other.id}


def test_unpaid_first_invoice_expires_after_23_hours(client: Any, stripe_emulator: EmulatorHandle) -> None:
    cus = client.v1.customers.create()
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": _plan(client)}],
            "payment_behavior": "default_incomplete",
        }
    )
    stripe_emulator.advance_clock(22 * 3600)
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    stripe_emulator.advance_clock(2 * 3600)
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete_expired"
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "void"


def test_invoice_upcoming_has_no_id(client: Any, stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.configure_account(invoice_upcoming_days=3)
    sub, _ = _subscribe(client, _plan(client), "pm_card_visa")
    stripe_emulator.advance_clock(20 * DAY)
    assert _events(client, "invoice.upcoming") == []
    stripe_emulator.advance_clock(8 * DAY + 60)
    [upcoming] = _events(client, "invoice.upcoming")
    assert "id" not in upcoming.data.object
    assert upcoming.data.object.parent.subscription_details.subscription == sub.id


def test_setup_intent_with_3155_authenticates_once(client: Any, stripe_emulator: EmulatorHandle) -> None:
    cus = client.v1.customers.create()
    seti = client.v1.setup_intents.create(
        params={
            "customer": cus.id,
            "payment_method": "pm_card_authenticationRequiredOnSetup",
            "confirm": True,
        }
    )
    assert seti.status == "requires_action"
    done = stripe_emulator.complete_setup_3ds(seti.id)
    assert done["status"] == "succeeded"
    pm = client.v1.payment_methods.retrieve(done["payment_method"])
    assert pm.customer == cus.id
    pi = client.v1.payment_intents.create(
        params={
            "amount": 900,
            "currency": "gbp",
            "customer": cus.id,
            "payment_method": pm.id,
            "off_session": True,
            "confirm": True,
        }
    )
    assert pi.status == "succeeded"


def test_setup_intent_declined_card(client: Any) -> None:
    cus = client.v1.customers.create()
    with pytest.raises(stripe.CardError):
        client.v1.setup_intents.create(
            params={"customer": cus.id, "payment_method": "pm_card_chargeDeclined", "confirm": True}
        )


def test_retry_schedule_setting_is_validated(stripe_emulator: EmulatorHandle) -> None:
    with pytest.raises(Exception, match="increasing"):
        stripe_emulator.configure_account(invoice_retry_hours=[48, 24])
