"""Billing fixtures: a plan, eager tasks (emails go to the locmem outbox), and the event pump
that takes what the emulator emitted through the inbox (store, then process) as the worker does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billing.models import Plan
from config.celery import app
from payments.models import StripeEvent


@pytest.fixture
def plan(db: Any) -> Plan:
    return Plan.objects.create(slug="reading-room", name="Reading Room", amount=900, currency="gbp")


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    # The settings' CELERY_ key shadows `app.conf.task_always_eager` (see tests/browser/conftest.py).
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    monkeypatch.setitem(app.conf, "CELERY_TASK_EAGER_PROPAGATES", True)
    # Register the tasks now, not at the first send: Celery's Django fixup then runs
    # django.setup(), whose logging config would drop the handler `caplog` put on the root.
    app.loader.import_default_modules()


@pytest.fixture
def stripe_events(emulator: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every event the emulator has emitted so far, oldest first (the events API)."""
    client = emulator.client()

    def read() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = client.v1.events.list(params=params)
            out += [e.to_dict(for_json=True) for e in page.data]
            if not page.has_more:
                return list(reversed(out))
            params["starting_after"] = page.data[-1].id

    return read


@pytest.fixture
def pump(
    process: Callable[..., StripeEvent], stripe_events: Callable[[], list[dict[str, Any]]], eager: None
) -> Callable[[], int]:
    """Deliver every event not stored yet, in order, through the inbox. Returns how many."""

    def run() -> int:
        new = [e for e in stripe_events() if not StripeEvent.objects.filter(stripe_id=e["id"]).exists()]
        for event in new:
            row = process(event)
            assert row.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED), row.last_error
        return len(new)

    return run
