"""The real-worker helpers of the end-to-end fault tests (payments and reconciliation): a Celery
worker subprocess on its own queue (`Worker`, the `start_worker` fixture, registered as a plugin
by tests/conftest.py), waiting for a condition, and paying an order in the emulator as the
checkout does."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings

from core.keys import idempotency_key
from orders.models import Order
from payments.models import StripeEvent
from payments.services.events import wakeup
from payments.services.events.retry import OPEN_STATUSES
from payments.services.events.wakeup import DRAIN_TASK

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")


class Worker:
    """A Celery worker subprocess on its own queue, and a sender that queues to it."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        crash_marker: Path | None = None,
        broker: str = REDIS_URL,
        drain_limit: int | None = None,
        queue: str | None = None,
    ) -> None:
        self.queue = queue or f"e2e-{uuid.uuid4().hex[:12]}"
        self.sender = Celery("e2e-sender", broker=broker)
        self.log = tmp_path / f"{self.queue}.log"
        database = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": broker,
            "STRIPE_API_BASE": settings.STRIPE_API_BASE,
            "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
            "ALERT_EMAILS": "",
            "ALERT_CHAT_WEBHOOK_URL": "",
            "E2E_CRASH_MARKER": str(crash_marker or ""),
            "E2E_DRAIN_LIMIT": str(drain_limit or ""),
            # Hand-over drains, retries and emails the worker itself queues stay on its queue.
            "E2E_QUEUE": self.queue,
        }
        args = ["-Q", self.queue, "--pool=prefork", "--concurrency=2", "--without-gossip", "--without-mingle"]
        args += ["--without-heartbeat", "-l", "warning", "-n", f"{self.queue}@%h"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.payments.e2e_worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: `stop` ends the pool children too
        )

    def publish_drain(self) -> None:
        self.sender.send_task(DRAIN_TASK, queue=self.queue)

    def stop(self) -> None:
        """End the worker and its pool at once, once the test has seen what it waits for: a warm
        shutdown would take seconds, and what it finishes is no longer looked at."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)
        self.sender.close()


@pytest.fixture
def start_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(**kwargs: Any) -> Worker:
        worker = Worker(tmp_path, **kwargs)
        workers.append(worker)
        monkeypatch.setattr(wakeup, "stripe_events_drain_publish", worker.publish_drain)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, worker: Worker | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    log = worker.log.read_text()[-3000:] if worker else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def open_events() -> int:
    return StripeEvent.objects.filter(status__in=OPEN_STATUSES).count()


def pay(client: Any, order: Order, card: str) -> tuple[str, bool]:
    params = {
        "amount": order.amount,
        "currency": order.currency,
        "payment_method": card,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }
    key = idempotency_key("order", order.pk, "payment-intent")
    try:
        pi = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
        return pi.id, pi.status == "succeeded"
    except Exception as error:
        return error.error.payment_intent.id, False  # type: ignore[attr-defined]
