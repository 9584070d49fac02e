"""A renewal declined then recovered, end to end: the emulator delivering signed webhooks to the
live server while it drops, duplicates and reorders them, PostgreSQL, Redis and a real Celery
worker process; then the recovery job and the billing re-sync. The outcome is what Stripe says,
with one dunning email per failed attempt."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from billing.models import DunningNotice, Invoice, Plan, Subscription
from billing.services import billing_resync, subscriber_create, subscriber_subscribe
from config.celery import app
from payments.models import StripeEvent
from payments.services.events import wakeup
from payments.services.events.recovery import stripe_event_recover
from payments.services.events.retry import OPEN_STATUSES
from payments.services.events.wakeup import DRAIN_TASK

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")
DAY = 86400


class Worker:
    """A Celery worker subprocess on its own queue (as in tests/payments/test_faults_e2e.py)."""

    def __init__(self, tmp_path: Path) -> None:
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
            "E2E_CRASH_MARKER": "",
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
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    running = Worker(tmp_path)
    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", running.publish_drain)
    # What this process queues (the re-sync's emails) goes to the worker too.
    monkeypatch.setattr(
        app, "send_task", lambda name, **kw: running.sender.send_task(name, **{**kw, "queue": running.queue})
    )
    yield running
    running.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.log.read_text()[-3000:]}")


def settle(emulator: Any, worker: Worker) -> None:
    """Deliveries done, the worker idle, then the recovery job for what was dropped."""
    assert emulator.wait_for_deliveries(timeout=60)
    idle = lambda: not StripeEvent.objects.filter(status__in=OPEN_STATUSES).exists()  # noqa: E731
    wait_until(idle, 60, "the worker to process the delivered events", worker)
    stripe_event_recover()
    wait_until(idle, 60, "the worker to process the recovered events", worker)


def test_renewal_declined_then_recovered_under_dropped_duplicated_reordered_events(
    emulator: Any, live_server: Any, settings: Any, worker: Worker
) -> None:
    endpoint = emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/")
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    settings.SITE_URL = live_server.url
    emulator.configure_account(invoice_retry_hours=[24, 48])
    emulator.set_faults(drop_rate=0.3, duplicate_rate=0.3, reorder_window=6, double_event_rate=0.1)
    stripe = emulator.client()
    plan = Plan.objects.create(slug="club", name="Club", amount=900, currency="gbp")

    # a subscriber pays the first invoice
    subscriber = subscriber_create(plan=plan, email="ada@example.com")
    subscription = subscriber_subscribe(subscriber=subscriber)
    payment = stripe.v1.invoice_payments.list(
        params={"invoice": subscription.latest_invoice_id, "expand": ["data.payment.payment_intent"]}
    ).data[0]
    stripe.v1.payment_intents.confirm(
        payment.payment.payment_intent.id, params={"payment_method": "pm_card_visa"}
    )
    settle(emulator, worker)
    assert Subscription.objects.get(pk=subscription.pk).status == "active"

    # the saved card starts declining; the renewal fails
    pm = stripe.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": subscriber.stripe_customer_id}
    )
    stripe.v1.subscriptions.update(subscription.stripe_id, params={"default_payment_method": pm.id})
    emulator.advance_clock(31 * DAY + 60)
    settle(emulator, worker)
    billing_resync(since=0)  # the job repairs what even the events API did not bring in time
    subscription.refresh_from_db()
    assert subscription.status == "past_due"
    renewal = Invoice.objects.get(billing_reason="subscription_cycle")
    assert renewal.status == "open" and renewal.attempt_count == 1
    wait_until(
        lambda: DunningNotice.objects.filter(sent_at__isnull=False).count() == 1, 30, "the email", worker
    )

    # a new card; the next retry takes it
    good = stripe.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": subscriber.stripe_customer_id}
    )
    stripe.v1.subscriptions.update(subscription.stripe_id, params={"default_payment_method": good.id})
    emulator.advance_clock(DAY)
    settle(emulator, worker)
    billing_resync(since=0)
    subscription.refresh_from_db()
    assert subscription.status == "active"
    renewal.refresh_from_db()
    assert renewal.status == "paid" and renewal.amount_paid == 900
    assert list(DunningNotice.objects.values_list("attempt", flat=True)) == [1]
    assert not StripeEvent.objects.filter(status=StripeEvent.Status.DEAD).exists()
