"""Fixtures for the payments tests: processing stored events as the worker would."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import TestCase

from payments.models import StripeEvent
from payments.services import events as event_services
from tests.factories import stored_event


@pytest.fixture
def no_queue(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per wake-up of the drain, instead of a message to a broker."""
    seen: list[None] = []

    def wake() -> bool:
        seen.append(None)
        return True

    monkeypatch.setattr(event_services, "stripe_events_wake", wake)
    return seen


@pytest.fixture
def process(no_queue: list[None]) -> Callable[..., StripeEvent]:
    """Store an event payload (unless it is already stored) and process it as the worker does,
    running on-commit callbacks (alerts) as a real commit would."""

    def run(payload: dict[str, Any] | StripeEvent) -> StripeEvent:
        row = payload if isinstance(payload, StripeEvent) else stored_event(payload)
        with TestCase.captureOnCommitCallbacks(execute=True):
            event_services.stripe_event_process(event_pk=row.pk)
        row.refresh_from_db()
        return row

    return run
