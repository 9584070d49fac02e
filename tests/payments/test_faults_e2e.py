"""Proven under faults, end to end: the Stripe emulator delivering to the live Django server,
PostgreSQL, Redis and a real Celery worker process.

- 200 orders paid while the emulator drops 30%, duplicates 30% and reorders deliveries: after
  the recovery job, every paid order is fulfilled exactly once and no unpaid order is;
- a worker killed half-way through a handler: the message comes back (late ack) and the event
  has one effect;
- the broker down when the event arrives: stored, acknowledged, re-queued later, processed;
- the database down when the event arrives: 5xx, Stripe's retry is stored and processed.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.db.models import Count
from django.test import Client

from core.keys import idempotency_key
from orders.models import Fulfillment, Order
from payments.models import Charge, PaymentIntent, StripeEvent
from payments.services.events import wakeup
from payments.services.events.recovery import stripe_event_recover, stripe_event_requeue_stale
from payments.services.events.retry import OPEN_STATUSES
from payments.services.events.wakeup import DRAIN_TASK
from tests.factories import OrderFactory, event, payment_intent, signed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")


class Worker:
    """A Celery worker subprocess on its own queue, and a sender that queues to it."""

    def __init__(self, tmp_path: Path, *, crash_marker: Path | None = None) -> None:
        from django.conf import settings

        self.queue = f"e2e-{uuid.uuid4().hex[:12]}"
        self.sender = Celery("e2e-sender", broker=REDIS_URL)
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
            "E2E_CRASH_MARKER": str(crash_marker or ""),
            # Hand-over drains, retries and emails the worker itself queues stay on its queue.
            "E2E_QUEUE": self.queue,
        }
        args = ["-Q", self.queue, "--pool=prefork", "--concurrency=2", "--without-gossip", "--without-mingle"]
        args += ["--without-heartbeat", "-l", "warning", "-n", f"{self.queue}@%h"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.payments.e2e_worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def publish_drain(self) -> None:
        self.sender.send_task(DRAIN_TASK, queue=self.queue)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
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


def test_200_orders_under_drops_duplicates_and_reordering_are_fulfilled_exactly_once(
    emulator: Any, live_server: Any, settings: Any, start_worker: Callable[..., Worker]
) -> None:
    # given the emulator delivering to the live server, badly, and a real worker
    endpoint = emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/")
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    worker = start_worker()
    emulator.set_faults(drop_rate=0.3, duplicate_rate=0.3, reorder_window=8, double_event_rate=0.1)
    orders = [OrderFactory(payment_intent_id=None) for _ in range(200)]
    cards = ["pm_card_chargeDeclined" if i % 7 == 0 else "pm_card_visa" for i in range(len(orders))]

    # when 200 customers pay
    client = emulator.client()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda pair: pay(client, *pair), zip(orders, cards, strict=True)))
    for order, (pi_id, _) in zip(orders, results, strict=True):
        Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
    assert emulator.wait_for_deliveries(timeout=120)
    wait_until(lambda: open_events() == 0, 120, "the worker to process the delivered events", worker)
    delivered = StripeEvent.objects.count()
    # ... and the recovery job runs
    summary = stripe_event_recover()
    wait_until(lambda: open_events() == 0, 120, "the worker to process the recovered events", worker)

    # then
    paid = {order.pk for order, (_, ok) in zip(orders, results, strict=True) if ok}
    assert 150 < len(paid) < 200
    assert len(summary.recovered) > 0, "a 30% drop rate lost nothing?"
    assert StripeEvent.objects.count() == delivered + len(summary.recovered)
    fulfillments = dict(Fulfillment.objects.values_list("order_id").annotate(n=Count("id")))
    assert set(fulfillments) == paid
    assert set(fulfillments.values()) == {1}
    statuses = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "status"))
    assert {statuses[pk] for pk in paid} == {Order.Status.FULFILLED}
    assert {statuses[o.pk] for o in orders if o.pk not in paid} == {Order.Status.PAYMENT_FAILED}
    assert not StripeEvent.objects.filter(status=StripeEvent.Status.DEAD).exists()
    assert StripeEvent.objects.filter(source=StripeEvent.Source.RECOVERY).count() == len(summary.recovered)
    # and the mirrors agree: each order's PaymentIntent and its one attempt, linked, in their
    # final state whatever order the events came in
    expected = {o.pk: "succeeded" if o.pk in paid else "requires_payment_method" for o in orders}
    assert dict(PaymentIntent.objects.filter(order__in=orders).values_list("order_id", "status")) == expected
    attempts = Charge.objects.filter(order__in=orders)
    assert attempts.count() == len(orders)
    assert dict(attempts.values_list("order_id", "status")) == {
        o.pk: "succeeded" if o.pk in paid else "failed" for o in orders
    }
    assert not attempts.filter(payment_intent=None).exists()


def deliver(order: Order, **fields: Any) -> tuple[int, StripeEvent | None]:
    payload = event("payment_intent.succeeded", payment_intent(order), **fields)
    body, signature = signed(payload)
    response = Client().generic(
        "POST", "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    return response.status_code, StripeEvent.objects.filter(stripe_id=payload["id"]).first()


def test_a_worker_killed_half_way_loses_nothing_and_doubles_nothing(
    tmp_path: Path, start_worker: Callable[..., Worker]
) -> None:
    # given a worker that will die in the middle of the first succeeded-payment handler
    marker = tmp_path / "crash-once"
    marker.touch()
    worker = start_worker(crash_marker=marker)
    order = OrderFactory()
    # when the event arrives
    status, row = deliver(order)
    assert status == 200 and row is not None
    # then the worker died once, the message came back (late ack), and the event had one effect
    wait_until(lambda: open_events() == 0, 60, "the event to be processed after the crash", worker)
    assert not marker.exists(), "the handler never ran"
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.attempts == 1  # the killed attempt's writes were never committed
    assert Fulfillment.objects.filter(order=order).count() == 1
    assert "WorkerLostError" in worker.log.read_text() or "exited with 'exitcode 1'" in worker.log.read_text()


def test_the_broker_down_when_the_event_arrives_loses_nothing(
    start_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the broker is down
    order = OrderFactory()
    down = Celery("down", broker="redis://127.0.0.1:1/0", broker_connection_retry=False)
    down.conf.broker_transport_options = {"max_retries": 0}

    def publish_to_nowhere() -> None:
        down.send_task(DRAIN_TASK, retry=False)

    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", publish_to_nowhere)
    # when the event arrives, it is stored and acknowledged all the same
    status, row = deliver(order)
    assert status == 200 and row is not None and row.status == StripeEvent.Status.PENDING
    # then, once the broker is back, the re-queue job (beat) sends it and the worker processes it
    worker = start_worker()
    assert stripe_event_requeue_stale(older_than=timedelta(0)) == 1
    wait_until(lambda: open_events() == 0, 60, "the re-queued event to be processed", worker)
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_the_database_down_answers_5xx_and_stripes_retry_succeeds(
    emulator: Any,
    live_server: Any,
    settings: Any,
    start_worker: Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the database refuses the inbox insert for the first three attempts
    endpoint = emulator.add_webhook_endpoint(
        live_server.url + "/stripe/webhook/", events=["payment_intent.succeeded"]
    )
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    emulator.configure_webhooks(first_retry=0.2, factor=1.5, max_attempts=6)
    worker = start_worker()
    failures = {"left": 3}
    original = CursorWrapper.execute

    def flaky(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        if "INSERT INTO" in sql and "payments_stripeevent" in sql and failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError("could not connect to server: Connection refused")
        return original(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", flaky)
    order = OrderFactory(payment_intent_id=None)
    # when the customer pays
    pi_id, ok = pay(emulator.client(), order, "pm_card_visa")
    Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
    assert ok
    assert emulator.wait_for_deliveries(timeout=30)
    # then Stripe saw 5xx three times, then a 200, and the event was processed once
    attempts = [
        d for d in emulator.deliveries() if d.get("event_type", d.get("type")) == "payment_intent.succeeded"
    ]
    statuses = [d.get("status") for d in attempts]
    assert statuses.count(503) == 3, attempts
    assert 200 in statuses
    wait_until(lambda: open_events() == 0, 60, "the retried event to be processed", worker)
    assert StripeEvent.objects.filter(type="payment_intent.succeeded").count() == 1
    assert Fulfillment.objects.filter(order=order).count() == 1
