"""Fixtures for the disputes tests: the gateway's dispute and file functions patched with a
fake that behaves as Stripe does, the evidence task run in place, staff users of each role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import TestCase

from disputes import tasks
from payments import stripe_gateway
from payments.models import StripeEvent
from payments.services import events as event_services
from tests.disputes.factories import FakeStripe
from tests.factories import stored_event
from tests.payments.test_stripe_gateway import fault_server, sleeps  # noqa: F401 (fixtures shared here)


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    fake = FakeStripe()
    for name in ("dispute_update", "dispute_close", "dispute_retrieve", "file_create"):
        monkeypatch.setattr(stripe_gateway, name, getattr(fake, name))
    return fake


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The evidence task runs in place (eagerly, retries included) when it is queued."""
    seen: list[int] = []

    def delay(dispute_pk: int) -> None:
        seen.append(dispute_pk)
        tasks.prepare_evidence.apply(args=[dispute_pk])

    monkeypatch.setattr(tasks.prepare_evidence, "delay", delay)
    return seen


@pytest.fixture
def alert_settings(settings: Any) -> Any:
    settings.ALERT_EMAILS = ["finance@example.com"]
    settings.ALERT_CHAT_WEBHOOK_URL = ""
    return settings


@pytest.fixture
def process(monkeypatch: pytest.MonkeyPatch) -> Callable[..., StripeEvent]:
    """Store an event payload and process it as the worker does, with on-commit callbacks (the
    evidence task, alerts) run as a real commit would."""
    monkeypatch.setattr(event_services, "stripe_events_wake", lambda: True)

    def run(payload: dict[str, Any]) -> StripeEvent:
        row = stored_event(payload)
        with TestCase.captureOnCommitCallbacks(execute=True):
            event_services.stripe_event_process(event_pk=row.pk)
        row.refresh_from_db()
        return row

    return run


def _staff(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def finance_user(db: Any) -> User:
    return _staff("fiona", "Finance")


@pytest.fixture
def support_user(db: Any) -> User:
    return _staff("sam", "Support")


@pytest.fixture
def refunds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def refund_create(*, params: dict[str, Any], idempotency_key: str, ids: Any = None) -> dict[str, Any]:
        seen.append({"key": idempotency_key, **params})
        return {
            "id": "re_inquiry1",
            "object": "refund",
            "amount": 4200,
            "currency": "gbp",
            "status": "succeeded",
            "charge": params["charge"],
            "payment_intent": None,
            "metadata": params["metadata"],
            "created": 1764000000,
            "livemode": False,
        }

    monkeypatch.setattr(stripe_gateway, "refund_create", refund_create)
    return seen
