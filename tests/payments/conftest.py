"""Fixtures for the payments tests: the drain's broker messages, processing stored events as the
worker would, alerts by email, and paying an order in the emulator."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import TestCase

from core.keys import idempotency_key
from orders.models import Order
from payments.models import StripeEvent
from payments.services.events import wakeup
from payments.services.events.process import stripe_event_process
from tests.factories import stored_event


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per drain message that would go to the broker. The wake-up row is the real
    one: while it is there (a drain waiting in the queue), further wake-ups publish nothing."""
    seen: list[None] = []
    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", lambda: seen.append(None))
    return seen


@pytest.fixture
def process(queued: list[None]) -> Callable[..., StripeEvent]:
    """Store an event payload (unless it is already stored) and process it as the worker does,
    running on-commit callbacks (alerts) as a real commit would."""

    def run(payload: dict[str, Any] | StripeEvent) -> StripeEvent:
        row = payload if isinstance(payload, StripeEvent) else stored_event(payload)
        with TestCase.captureOnCommitCallbacks(execute=True):
            stripe_event_process(event_pk=row.pk)
        row.refresh_from_db()
        return row

    return run


@pytest.fixture
def alert_emails(settings: Any) -> None:
    """Alerts go by email to one address (and to no chat)."""
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_CHAT_WEBHOOK_URL = ""


@pytest.fixture
def pay(emulator: Any) -> Callable[..., str]:
    """Pay an order through the emulator as the checkout would, with no webhook endpoint (so every
    event is "missed"); returns the PaymentIntent's id, linked to the order."""

    def run(order: Order, card: str = "pm_card_visa") -> str:
        params = {
            "amount": order.amount,
            "currency": order.currency,
            "payment_method": card,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": {"order_id": str(order.pk), "order_number": order.number},
        }
        client = emulator.client()
        try:
            pi = client.v1.payment_intents.create(
                params=params,
                options={"idempotency_key": idempotency_key("order", order.pk, "payment-intent")},
            )
            pi_id = pi.id
        except Exception as error:  # a declined card: the PaymentIntent is in the error
            pi_id = error.error.payment_intent.id  # type: ignore[attr-defined]
        Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
        return pi_id

    return run
