"""Services queue tasks by name (config.celery.task_send), without importing the tasks modules."""

from typing import Any

import pytest

from config.celery import app, task_send

pytestmark = pytest.mark.django_db


def test_a_task_is_sent_to_the_broker_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, options)))
    task_send(name="payments.process_stripe_event", args=(7,), countdown=3, retry=False)
    assert sent == [("payments.process_stripe_event", {"args": (7,), "countdown": 3, "retry": False})]


def test_under_task_always_eager_the_task_runs_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # given eager tasks (as the browser tests run them), and no broker at all
    monkeypatch.setitem(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)
    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: pytest.fail("sent to the broker"))
    ran: list[int] = []
    monkeypatch.setattr("payments.tasks.stripe_events_drain", lambda: ran.append(1) or 0)
    # when a service queues the drain, it runs
    task_send(name="payments.drain_stripe_events", retry=False)
    assert ran == [1]
