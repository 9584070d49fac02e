"""Fixtures for the reconciliation tests: an in-memory Stripe behind the gateway's functions, and
the alerts sent (instead of the log, mail and chat)."""

from typing import Any

import pytest

from payments import alerts
from tests.reconciliation.factories import fake_stripe

__all__ = ["alerts_sent", "fake_stripe"]


@pytest.fixture
def alerts_sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(alerts, "alert_send", lambda **kwargs: sent.append(kwargs))
    return sent
