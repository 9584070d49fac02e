"""Fixtures for the disputes tests: the gateway's dispute and file functions patched with a
fake that behaves as Stripe does, the evidence task run in place, staff users of each role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from config.celery import app as celery_app
from disputes import tasks
from disputes.services.sync import PREPARE_EVIDENCE_TASK
from payments import stripe_gateway
from tests.disputes.factories import FakeStripe
from tests.e2e_support import Worker


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    fake = FakeStripe()
    for name in ("dispute_update", "dispute_close", "dispute_retrieve", "file_create"):
        monkeypatch.setattr(stripe_gateway, name, getattr(fake, name))
    return fake


@pytest.fixture
def evidence_queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The evidence task runs in place (eagerly, retries included) when it is queued."""
    seen: list[int] = []
    send_task = celery_app.send_task

    def send(name: str, args: Any = (), **options: Any) -> Any:
        if name != PREPARE_EVIDENCE_TASK:
            return send_task(name, args=args, **options)
        seen.append(args[0])
        return tasks.prepare_evidence.apply(args=list(args))

    monkeypatch.setattr(celery_app, "send_task", send)
    return seen


@pytest.fixture
def alert_settings(settings: Any) -> Any:
    settings.ALERT_EMAILS = ["finance@example.com"]
    settings.ALERT_CHAT_WEBHOOK_URL = ""
    return settings


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
        seen.append({"key": idempotency_key, "ids": ids, **params})
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


WEBHOOK_SECRET = "whsec_disputes_e2e_0000000000000000"


@pytest.fixture
def wired(emulator: Any, live_server: Any, settings: Any, queued: list[None], alert_settings: Any) -> Any:
    """The emulator delivering every event, signed, to the live server's webhook endpoint; the
    drain's broker message recorded instead of sent (tests drain in place), alerts by email."""
    settings.STRIPE_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/", secret=WEBHOOK_SECRET)
    yield emulator
    emulator.wait_for_deliveries(timeout=5)


@pytest.fixture
def dispute_worker(
    emulator: Any, live_server: Any, settings: Any, start_worker: Callable[..., Worker]
) -> Iterator[Worker]:
    """The emulator delivering to the live server, and the shared real Celery worker
    (tests/e2e_support.py) that drains the stored events and runs the evidence task it queues."""
    settings.STRIPE_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/", secret=WEBHOOK_SECRET)
    worker = start_worker()
    yield worker
    emulator.wait_for_deliveries(timeout=5)
