"""Helpers for the disputes' end-to-end tests against the Stripe emulator: an order as the shop
keeps it, paid through the emulator with a dispute test card, and the stored events processed
as the worker's drain does (in this process, where the pipeline is not what is under test)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from django.conf import settings

from core.keys import idempotency_key
from orders.models import Order
from payments.models import StripeEvent
from payments.services.events.drain import stripe_events_drain
from payments.services.events.retry import OPEN_STATUSES
from payments.services.events.wakeup import DRAIN_TASK
from tests.factories import OrderFactory, OrderItemFactory

FRAUD_CARD = "pm_card_createDispute"  # 4000000000000259
INQUIRY_CARD = "pm_card_createDisputeInquiry"  # 4000000000001976
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")


def shop_order(amount: int = 4200) -> Order:
    """An order awaiting payment, with one item and the customer's details, as checkout makes it."""
    order = OrderFactory(payment_intent_id=None, amount=amount)
    OrderItemFactory(order=order, unit_amount=amount, currency=order.currency)
    return order


def pay(emulator: Any, order: Order, card: str) -> str:
    """Pay the order as the Payment Element checkout does (its key, its metadata); the
    PaymentIntent's id is stored on the order as checkout stores it. Returns it."""
    params = {
        "amount": order.amount,
        "currency": order.currency,
        "payment_method": card,
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }
    Order.objects.filter(pk=order.pk).update(
        payment_intent_idempotency_key=idempotency_key("order", order.pk, "payment-intent")
    )
    pi = emulator.client().v1.payment_intents.create(
        params=params, options={"idempotency_key": idempotency_key("order", order.pk, "payment-intent")}
    )
    Order.objects.filter(pk=order.pk).update(payment_intent_id=pi.id)
    return str(pi.id)


def drain() -> int:
    """Process every stored, pending event as the worker's drain does (the tests using this are
    transactional, so on-commit work, the evidence task and alerts, runs at each commit)."""
    return stripe_events_drain()


def settle(emulator: Any, timeout: float = 20) -> None:
    """Wait until the emulator has delivered everything, drain what was stored, and again while
    the drain's own calls to Stripe (the evidence staged) make it send more."""
    for _ in range(10):
        assert emulator.wait_for_deliveries(timeout=timeout), "the emulator kept deliveries in flight"
        if not drain() and emulator.wait_for_deliveries(timeout=timeout) and not open_events():
            return
    raise AssertionError("the events never settled")


def wait_until(condition: Callable[[], bool], timeout: float, what: str, worker: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail() if worker else ''}")


def open_events() -> int:
    return StripeEvent.objects.filter(status__in=OPEN_STATUSES).count()


class Worker:
    """A Celery worker subprocess on its own queue (Redis, E2E_REDIS_URL), pointed at the test
    database and the emulator, and a sender that queues the drain to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.queue = f"disputes-e2e-{uuid.uuid4().hex[:12]}"
        self.sender = Celery("disputes-e2e-sender", broker=REDIS_URL)
        self.log = tmp_path / f"{self.queue}.log"
        database = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": REDIS_URL,
            "STRIPE_API_BASE": settings.STRIPE_API_BASE,
            "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
            "ALERT_EMAILS": "",
            "ALERT_CHAT_WEBHOOK_URL": "",
            "E2E_QUEUE": self.queue,
        }
        args = ["-Q", self.queue, "--pool=prefork", "--concurrency=2", "--without-gossip", "--without-mingle"]
        args += ["--without-heartbeat", "-l", "warning", "-n", f"{self.queue}@%h"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.disputes.e2e_worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )

    def publish_drain(self) -> None:
        self.sender.send_task(DRAIN_TASK, queue=self.queue)

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.sender.close()
