"""The events API: filters, order, previous_attributes, request info, the 30-day window."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle


def test_filters_and_newest_first(client: Any) -> None:
    cus = client.v1.customers.create(params={"name": "a"})
    client.v1.customers.update(cus.id, params={"name": "b"})
    client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    all_types = [e.type for e in client.v1.events.list().data]
    assert all_types == [
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.created",
        "customer.updated",
        "customer.created",
    ]
    assert [e.type for e in client.v1.events.list(params={"type": "customer.updated"}).data] == [
        "customer.updated"
    ]
    assert [e.type for e in client.v1.events.list(params={"type": "customer.*"}).data] == [
        "customer.updated",
        "customer.created",
    ]
    got = client.v1.events.list(params={"types": ["charge.succeeded", "customer.created"]}).data
    assert [e.type for e in got] == ["charge.succeeded", "customer.created"]
    first = client.v1.events.list().data[-1]
    assert client.v1.events.list(params={"created": {"gt": first.created}}).data == []
    assert len(client.v1.events.list(params={"created": {"gte": first.created}}).data) == 5
    assert client.v1.events.retrieve(first.id).type == "customer.created"


def test_event_shape_previous_attributes_and_request(client: Any) -> None:
    cus = client.v1.customers.create(
        params={"name": "a", "metadata": {"k": "1"}}, options={"idempotency_key": "c-1"}
    )
    client.v1.customers.update(cus.id, params={"name": "b", "metadata": {"k": "2"}})
    updated, created = client.v1.events.list().data
    assert created.request.idempotency_key == "c-1" and created.request.id.startswith("req_")
    assert created.object == "event" and created.id.startswith("evt_") and created.api_version
    assert created.data.object.name == "a"
    assert updated.data.object.name == "b"
    assert updated.data.previous_attributes.to_dict() == {"name": "a", "metadata": {"k": "1"}}
    assert created.pending_webhooks == 0


def test_delivery_success_filter(stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any) -> None:
    stripe_emulator.configure_webhooks(max_attempts=1)
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    webhook_receiver.statuses = [500]
    client.v1.customers.create(params={"name": "fails"})
    assert stripe_emulator.wait_for_deliveries()
    client.v1.customers.create(params={"name": "ok"})
    assert stripe_emulator.wait_for_deliveries()
    failed = client.v1.events.list(params={"delivery_success": False}).data
    ok = client.v1.events.list(params={"delivery_success": True}).data
    assert [e.data.object.name for e in failed] == ["fails"] and failed[0].pending_webhooks == 1
    assert [e.data.object.name for e in ok] == ["ok"] and ok[0].pending_webhooks == 0


def test_thirty_day_window(stripe_emulator: EmulatorHandle, client: Any) -> None:
    client.v1.customers.create(params={"name": "old"})
    old = client.v1.events.list().data[0]
    stripe_emulator.advance_clock(29 * 86400)
    assert client.v1.events.retrieve(old.id).id == old.id
    stripe_emulator.advance_clock(2 * 86400)
    client.v1.customers.create(params={"name": "new"})
    assert [e.data.object.name for e in client.v1.events.list().data] == ["new"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.retrieve(old.id)


def test_events_carry_the_api_version_the_accounts_requests_use(
    stripe_emulator: EmulatorHandle, settings: Any
) -> None:
    from payments import stripe_gateway

    # given the product's own client, which pins its API version
    settings.STRIPE_API_BASE = stripe_emulator.url
    settings.STRIPE_SECRET_KEY = stripe_emulator.secret_key
    product = stripe_gateway.get_client()
    pinned = settings.STRIPE_API_VERSION
    assert pinned == "2026-10-28.endive"

    # when it pays, and later the clock (not a request) pays the money out
    product.v1.payment_intents.create(
        params={"amount": 1000, "currency": "gbp", "payment_method": "pm_card_bypassPending", "confirm": True}
    )
    stripe_emulator.advance_clock(3 * 86400)

    # then every event, the clock's payout events too, is rendered with the pinned version
    events = list(product.v1.events.list(params={"limit": 100}).auto_paging_iter())
    assert {"payment_intent.succeeded", "payout.created", "payout.paid"} <= {e.type for e in events}
    assert {e.api_version for e in events} == {pinned}


def test_events_default_to_the_spec_version_before_any_request(stripe_emulator: EmulatorHandle) -> None:
    assert stripe_emulator.emulator is not None
    emu = stripe_emulator.emulator
    with emu.lock:
        emu.emit(
            "balance.available", {"object": "balance", "available": [], "pending": [], "livemode": False}
        )
    (event,) = emu.store.all("event")
    assert event["api_version"] == "2026-08-26.dahlia"
