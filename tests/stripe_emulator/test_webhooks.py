"""Webhook endpoints and delivery: signatures that the SDK verifies, secret rolls, retries with backoff."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle


def test_endpoint_crud_secret_only_on_create(client: Any) -> None:
    we = client.v1.webhook_endpoints.create(
        params={"url": "https://shop.example/hook", "enabled_events": ["*"]}
    )
    assert we.secret.startswith("whsec_") and we.status == "enabled" and we.id.startswith("we_")
    got = client.v1.webhook_endpoints.retrieve(we.id)
    assert "secret" not in got
    got = client.v1.webhook_endpoints.update(
        we.id, params={"enabled_events": ["charge.succeeded"], "disabled": True}
    )
    assert got.enabled_events == ["charge.succeeded"] and got.status == "disabled"
    assert [w.id for w in client.v1.webhook_endpoints.list().data] == [we.id]
    deleted = client.v1.webhook_endpoints.delete(we.id)
    assert deleted.deleted is True
    assert client.v1.webhook_endpoints.list().data == []


def test_delivery_verifies_with_sdk(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    we = stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    pi = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert stripe_emulator.wait_for_deliveries()
    assert len(webhook_receiver.received) == 3
    types = set()
    for hook in webhook_receiver.received:
        event = stripe.Webhook.construct_event(hook.body, hook.signature, we["secret"])
        event2 = client.construct_event(hook.body, hook.signature, we["secret"])
        assert event.id == event2.id
        types.add(event.type)
        assert event.data.object.id in (pi.id, pi.latest_charge)
        assert hook.headers["content-type"].startswith("application/json")
    assert types == {"payment_intent.created", "charge.succeeded", "payment_intent.succeeded"}
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            webhook_receiver.received[0].body, webhook_receiver.received[0].signature, "whsec_wrong"
        )
    assert all(e.pending_webhooks == 0 for e in client.v1.events.list().data)


def test_enabled_events_and_disabled_endpoints(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url, events=["customer.created"])
    off = client.v1.webhook_endpoints.create(
        params={"url": webhook_receiver.url + "/off", "enabled_events": ["*"]}
    )
    client.v1.webhook_endpoints.update(off.id, params={"disabled": True})
    cus = client.v1.customers.create(params={"name": "a"})
    client.v1.customers.update(cus.id, params={"name": "b"})
    assert stripe_emulator.wait_for_deliveries()
    assert [e["type"] for e in webhook_receiver.events()] == ["customer.created"]


def test_rolled_secret_signs_with_both_until_expiry(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    we = stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    rolled = stripe_emulator.roll_webhook_secret(we["id"], expire_in=3600)
    assert rolled["secret"] != we["secret"]
    client.v1.customers.create(params={"name": "a"})
    assert stripe_emulator.wait_for_deliveries()
    hook = webhook_receiver.received[-1]
    assert hook.signature.count("v1=") == 2
    stripe.Webhook.construct_event(hook.body, hook.signature, we["secret"])
    stripe.Webhook.construct_event(hook.body, hook.signature, rolled["secret"])
    stripe_emulator.advance_clock(3601)
    client.v1.customers.create(params={"name": "b"})
    assert stripe_emulator.wait_for_deliveries()
    hook = webhook_receiver.received[-1]
    assert hook.signature.count("v1=") == 1
    stripe.Webhook.construct_event(hook.body, hook.signature, rolled["secret"])
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(hook.body, hook.signature, we["secret"])


def test_retries_with_backoff_after_500s(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.configure_webhooks(first_retry=0.1, max_attempts=5)
    we = stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    webhook_receiver.statuses = [500, 503, 500]
    client.v1.customers.create(params={"name": "a"})
    assert stripe_emulator.wait_for_deliveries()
    assert len(webhook_receiver.received) == 4
    times = [h.time for h in webhook_receiver.received]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39  # 0.1, 0.2, 0.4 s
    # every attempt is the same event, and each one is signed so that the SDK accepts it
    assert len({h.body for h in webhook_receiver.received}) == 1
    for h in webhook_receiver.received:
        stripe.Webhook.construct_event(h.body, h.signature, we["secret"])
    log = stripe_emulator.deliveries()
    assert [(d["attempt"], d["status"], d["outcome"]) for d in log] == [
        (1, 500, "retrying"),
        (2, 503, "retrying"),
        (3, 500, "retrying"),
        (4, 200, "succeeded"),
    ]
    assert client.v1.events.list().data[0].pending_webhooks == 0


def test_gives_up_after_max_attempts(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.configure_webhooks(first_retry=0.05, max_attempts=3)
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    webhook_receiver.default_status = 400
    client.v1.customers.create(params={"name": "a"})
    assert stripe_emulator.wait_for_deliveries()
    assert len(webhook_receiver.received) == 3
    assert stripe_emulator.deliveries()[-1]["outcome"] == "failed"
    assert client.v1.events.list(params={"delivery_success": False}).data[0].pending_webhooks == 1


def test_timeout_and_connection_errors_are_retried(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.configure_webhooks(first_retry=0.05, max_attempts=3, timeout=0.2)
    unreachable = stripe_emulator.add_webhook_endpoint("http://127.0.0.1:9/unreachable")
    webhook_receiver.delay = 0.5
    slow = stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    client.v1.customers.create(params={"name": "a"})
    assert stripe_emulator.wait_for_deliveries()
    log = stripe_emulator.deliveries()
    for endpoint in (unreachable, slow):
        attempts = [(d["attempt"], d["outcome"]) for d in log if d["endpoint"] == endpoint["id"]]
        # each failed attempt is tried again, up to max_attempts, then given up
        assert attempts == [(1, "retrying"), (2, "retrying"), (3, "failed")]
        assert all(d["error"] and d["status"] is None for d in log if d["endpoint"] == endpoint["id"])
    # every attempt reached the slow endpoint, and each one gave up waiting for its answer
    assert len(webhook_receiver.received) == 3


def test_in_order_per_endpoint_without_faults(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    created = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(15)]
    assert stripe_emulator.wait_for_deliveries()
    assert [e["data"]["object"]["id"] for e in webhook_receiver.events()] == created


def test_paused_deliveries_are_held_until_released(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.configure_webhooks(paused=True)
    client.v1.customers.create(params={"name": "held"})
    assert stripe_emulator.wait_for_deliveries(timeout=0.3) is False
    assert webhook_receiver.received == []
    stripe_emulator.configure_webhooks(paused=False)
    assert stripe_emulator.wait_for_deliveries()
    assert len(webhook_receiver.received) == 1


def test_after_a_reset_the_delivery_on_the_wire_is_waited_for_and_its_retry_never_goes(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    # given a delivery the endpoint is still answering (with a failure, so a retry would follow)
    stripe_emulator.configure_webhooks(first_retry=0.05, max_attempts=3)
    webhook_receiver.delay = 0.5
    webhook_receiver.statuses = [500]
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    client.v1.customers.create(params={"name": "late"})
    assert webhook_receiver.wait_for(1)
    dispatcher = stripe_emulator.emulator.webhooks  # type: ignore[union-attr]

    # when the test is over: reset, then settle
    stripe_emulator.reset()
    on_the_wire = dispatcher.delivering
    settled = dispatcher.settle()

    # then settle came back once the endpoint had answered, and no retry went out after it
    assert on_the_wire == 1 and settled and dispatcher.delivering == 0
    assert stripe_emulator.wait_for_deliveries()
    assert len(webhook_receiver.received) == 1
