"""Stripe's rate limiter on demand: 429 `rate_limit`, its headers, per mode and kind of endpoint."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from stripe_emulator.ratelimit import kind_of
from stripe_emulator.testing import LIVE_SECRET_KEY, EmulatorHandle


def _burst(raw: Any, n: int, path: str = "/v1/customers", key: str = "default") -> list[int]:
    return [raw.request("GET", path, key=key)[0] for _ in range(n)]


def test_off_unless_asked(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    assert set(_burst(raw, 40)) == {200}
    assert stripe_emulator.rate_limits()["enabled"] is False


def test_a_burst_over_the_test_mode_limit_gets_stripes_429(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_rate_limits(test={"default": 5})
    statuses = _burst(raw, 8)
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    status, headers, body = raw.request("GET", "/v1/customers")
    assert status == 429
    assert headers["stripe-rate-limited-reason"] == "global-rate"
    assert "stripe-should-retry" not in headers and headers["request-id"].startswith("req_")
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == "rate_limit"
    assert "rate limit" in body["error"]["message"]
    counts = stripe_emulator.rate_limits()["counts"]["test.default"]
    assert counts["allowed"] == 5 and counts["limited"] >= 3


def test_the_bucket_refills_at_the_limit(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_rate_limits(test={"default": 20})
    _burst(raw, 25)
    time.sleep(0.2)  # 20/s refills 4 tokens in 0.2 s
    assert _burst(raw, 1) == [200]


def test_the_sdk_does_not_retry_it(stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.set_rate_limits(test={"default": 1})
    client = stripe_emulator.client(max_network_retries=3)
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.customers.list()
    assert caught.value.error is not None and caught.value.error.code == "rate_limit"
    assert stripe_emulator.rate_limits()["counts"]["test.default"] == {"allowed": 1, "limited": 1}


def test_live_and_test_mode_have_their_own_budgets(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_rate_limits(test={"default": 3}, live={"default": 10})
    assert 429 in _burst(raw, 6)
    assert _burst(raw, 6, key=LIVE_SECRET_KEY) == [200] * 6


def test_files_have_their_own_limit_and_reason(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_rate_limits(test={"default": 50, "files": 2})
    statuses = _burst(raw, 4, path="/v1/files")
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429]
    status, headers, _ = raw.request("GET", "/v1/files")
    assert status == 429 and headers["stripe-rate-limited-reason"] == "endpoint-rate"
    assert _burst(raw, 3) == [200] * 3  # the global budget is not spent by the files limit
    assert kind_of("/v1/customers/search") == "search" and kind_of("/v1/charges") == "default"


def test_bad_settings_are_refused_and_reset_turns_it_off(stripe_emulator: EmulatorHandle) -> None:
    with pytest.raises(AssertionError, match="unknown rate limit kind"):
        stripe_emulator.set_rate_limits(test={"payouts": 3})
    stripe_emulator.set_rate_limits(test={"default": 1})
    stripe_emulator.reset()
    assert stripe_emulator.rate_limits()["enabled"] is False
    assert stripe_emulator.rate_limits()["test"]["default"] == 25
