"""Idempotency keys as Stripe implements them: replay, mismatch, in flight, 24 h expiry, not-stored cases."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

PI = {"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}


def test_replay_same_key_same_params(raw: Any, client: Any) -> None:
    headers = {"Idempotency-Key": "order:1:pi:v1"}
    status, first_headers, first = raw.request("POST", "/v1/payment_intents", PI, headers=headers)
    assert status == 200 and "idempotent-replayed" not in first_headers
    status, again_headers, again = raw.request("POST", "/v1/payment_intents", PI, headers=headers)
    assert status == 200 and again_headers["idempotent-replayed"] == "true"
    assert again == first
    assert len(client.v1.payment_intents.list().data) == 1
    # Through the SDK: the same object comes back, and no second charge exists.
    pi = client.v1.payment_intents.create(params=PI, options={"idempotency_key": "order:1:pi:v1"})
    assert pi.id == first["id"]
    assert len(client.v1.charges.list().data) == 1


def test_declines_are_stored_and_replayed(raw: Any) -> None:
    params = {**PI, "payment_method": "pm_card_visa_chargeDeclined"}
    headers = {"Idempotency-Key": "decline-1"}
    status, _, first = raw.request("POST", "/v1/payment_intents", params, headers=headers)
    status2, h2, second = raw.request("POST", "/v1/payment_intents", params, headers=headers)
    assert status == status2 == 402 and h2["idempotent-replayed"] == "true" and first == second


def test_other_params_same_key_is_idempotency_error(client: Any) -> None:
    client.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.customers.create(params={"name": "b"}, options={"idempotency_key": "k1"})
    assert exc.value.http_status == 400
    assert exc.value.error.type == "idempotency_error"
    assert exc.value.user_message.startswith(
        "Keys for idempotent requests can only be used with the same parameters they were first used with."
    )
    # Same key on another endpoint is also a mismatch.
    with pytest.raises(stripe.IdempotencyError):
        client.v1.products.create(params={"name": "a"}, options={"idempotency_key": "k1"})


def test_keys_are_scoped_per_api_key(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    from stripe_emulator.testing import RESTRICTED_KEY

    raw.request("POST", "/v1/customers", {"name": "a"}, headers={"Idempotency-Key": "shared"})
    status, headers, _ = raw.request(
        "POST", "/v1/customers", {"name": "b"}, key=RESTRICTED_KEY, headers={"Idempotency-Key": "shared"}
    )
    assert status == 200 and "idempotent-replayed" not in headers


def test_in_flight_key_gets_409(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_faults(api=[{"kind": "slow", "path": "^/v1/customers$", "seconds": 0.6, "count": 1}])
    results: list[int] = []
    first = threading.Thread(
        target=lambda: results.append(
            raw.request("POST", "/v1/customers", {"name": "a"}, headers={"Idempotency-Key": "busy"})[0]
        )
    )
    first.start()
    import time

    time.sleep(0.2)
    status, _, body = raw.request("POST", "/v1/customers", {"name": "a"}, headers={"Idempotency-Key": "busy"})
    first.join()
    assert status == 409 and body["error"]["code"] == "idempotency_key_in_use"
    assert results == [200]
    # Through the SDK (no retries) a 409 is an APIError carrying the code.
    stripe_emulator.set_faults(api=[{"kind": "slow", "path": "^/v1/customers$", "seconds": 0.6, "count": 1}])
    client = stripe_emulator.client()
    t = threading.Thread(
        target=lambda: client.v1.customers.create(params={"name": "z"}, options={"idempotency_key": "b2"})
    )
    t.start()
    time.sleep(0.2)
    with pytest.raises(stripe.APIError) as exc:
        client.v1.customers.create(params={"name": "z"}, options={"idempotency_key": "b2"})
    t.join()
    assert exc.value.error.code == "idempotency_key_in_use"


def test_keys_expire_after_24h(stripe_emulator: EmulatorHandle, client: Any) -> None:
    first = client.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "day-old"})
    stripe_emulator.advance_clock(23 * 3600)
    assert (
        client.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "day-old"}).id
        == first.id
    )
    stripe_emulator.advance_clock(3600)
    second = client.v1.customers.create(params={"name": "a"}, options={"idempotency_key": "day-old"})
    assert second.id != first.id


def test_validation_failures_and_429s_are_not_stored(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    headers = {"Idempotency-Key": "fix-and-retry"}
    status, _, _ = raw.request("POST", "/v1/customers", {"name": "a", "colour": "x"}, headers=headers)
    assert status == 400
    status, _, _ = raw.request("POST", "/v1/customers", {"name": "a"}, headers=headers)
    assert status == 200
    stripe_emulator.set_faults(api=[{"kind": "rate_limit", "path": "^/v1/products$", "count": 1}])
    headers = {"Idempotency-Key": "limited"}
    status, h, _ = raw.request("POST", "/v1/products", {"name": "p"}, headers=headers)
    assert status == 429 and h["stripe-rate-limited-reason"]
    status, h, _ = raw.request("POST", "/v1/products", {"name": "p"}, headers=headers)
    assert status == 200 and "idempotent-replayed" not in h
    status, h, _ = raw.request(
        "POST", "/v1/products", {"name": "p"}, key=None, headers={"Idempotency-Key": "noauth"}
    )
    assert status == 401
    status, h, _ = raw.request("POST", "/v1/products", {"name": "p"}, headers={"Idempotency-Key": "noauth"})
    assert status == 200 and "idempotent-replayed" not in h


def test_sdk_retry_after_lost_response_replays(stripe_emulator: EmulatorHandle) -> None:
    """The request runs but the answer is lost; the SDK retries with the same key and gets the replay."""
    stripe_emulator.set_faults(api=[{"kind": "drop_after", "path": "^/v1/payment_intents$", "count": 1}])
    client = stripe_emulator.client(max_network_retries=2)
    pi = client.v1.payment_intents.create(params=PI)
    assert pi.status == "succeeded"
    assert len(client.v1.payment_intents.list().data) == 1
