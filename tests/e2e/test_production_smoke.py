"""The production shape, started as it would run: the production settings in real processes
(gunicorn with 2 workers, one Celery worker per queue, beat), PostgreSQL, RabbitMQ and the Stripe
emulator delivering signed webhooks to gunicorn. 100 orders are paid at once while the webhook
worker is killed and started again: every order is fulfilled once, one email each, and the
metrics endpoint reports nothing pending at the end."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db.models import Count

from core.keys import idempotency_key
from orders.models import Fulfillment, Order
from payments.models import StripeEvent
from payments.schedules import periodic_tasks_install
from tests.factories import OrderFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RABBITMQ_URL = os.environ.get("E2E_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
METRICS_TOKEN = "smoke-test-metrics-token"
ORDERS = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """The production processes, each with its own log file."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{name}.log").open("ab")
        process = subprocess.Popen(
            list(args), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = process
        return process

    def start_worker(self, queue: str) -> None:
        prefixed = self.env["CELERY_QUEUE_PREFIX"] + queue
        self.start(
            f"worker-{queue}",
            str(BIN / "celery"), "-A", "config", "worker", "-Q", prefixed, "--concurrency", "2",
            "-l", "info", "-n", f"{prefixed}@%h", "--without-gossip", "--without-mingle",
        )  # fmt: skip

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2500:]}"
            for path in sorted(self.tmp_path.glob("*.log"))
        )

    def stop_all(self) -> None:
        """End every process with its children at once (each leads its own process group): the
        test has seen what it waits for, and a graceful stop would take seconds."""
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.running.values():
            process.wait(timeout=20)


@pytest.fixture
def production(tmp_path: Path, emulator: Any) -> Iterator[tuple[Processes, str, Path]]:
    database = settings.DATABASES["default"]
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    endpoint = emulator.add_webhook_endpoint(site + "/stripe/webhook/")
    mail = tmp_path / "mail"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "smoke-" + uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": site,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": RABBITMQ_URL,
        "CELERY_QUEUE_PREFIX": f"smoke-{uuid.uuid4().hex[:8]}-",
        "STRIPE_SECRET_KEY": emulator.secret_key,
        "STRIPE_PUBLISHABLE_KEY": emulator.publishable_key,
        "STRIPE_WEBHOOK_SECRETS": endpoint["secret"],
        "STRIPE_API_BASE": emulator.url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail),
        "METRICS_TOKEN": METRICS_TOKEN,
        "ALERT_EMAILS": "",
        "ALERT_CHAT_WEBHOOK_URL": "",
        # Plain HTTP on loopback: no redirect to HTTPS (production turns it on by default).
        "SECURE_SSL_REDIRECT": "false",
        "LOG_FORMAT": "json",
    }
    processes = Processes(tmp_path, env)
    processes.start(
        "web", str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--access-logfile", "-",
    )  # fmt: skip
    for queue in ("webhooks", "emails", "finance"):
        processes.start_worker(queue)
    # The safety nets beat runs; transactional tests elsewhere flush the migration's schedules.
    periodic_tasks_install(apps)
    processes.start("beat", str(BIN / "celery"), "-A", "config", "beat", "-l", "info")
    try:
        wait_until(lambda: metrics(site) is not None, 60, "gunicorn to answer", processes)
        yield processes, site, mail
    finally:
        processes.stop_all()


def metrics(site: str) -> str | None:
    request = urllib.request.Request(site + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def wait_until(condition: Callable[[], bool], timeout: float, what: str, processes: Processes) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{processes.logs()}")


def pay(client: Any, order: Order) -> str:
    params = {
        "amount": order.amount,
        "currency": order.currency,
        "payment_method": "pm_card_visa",
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"order_id": str(order.pk), "order_number": order.number},
    }
    key = idempotency_key("order", order.pk, "payment-intent")
    return str(client.v1.payment_intents.create(params=params, options={"idempotency_key": key}).id)


def confirmation_subjects(mail: Path) -> list[str]:
    subjects: list[str] = []
    for path in mail.glob("*.log"):
        subjects += re.findall(r"^Subject: (.*)$", path.read_text(), flags=re.MULTILINE)
    return subjects


def test_100_orders_paid_at_once_on_the_production_shape(production: Any, emulator: Any) -> None:
    processes, site, mail = production
    orders = [OrderFactory(payment_intent_id=None) for _ in range(ORDERS)]
    client = emulator.client()

    # when 100 customers pay at once, and the webhook worker is killed a third of the way through
    with ThreadPoolExecutor(max_workers=8) as pool:
        paying = [pool.submit(pay, client, order) for order in orders]
        wait_until(
            lambda: StripeEvent.objects.count() >= ORDERS, 120, "a third of the events to arrive", processes
        )
        processes.running["worker-webhooks"].send_signal(signal.SIGKILL)
        processes.running["worker-webhooks"].wait(timeout=10)
        processes.start_worker("webhooks")
        for order, future in zip(orders, paying, strict=True):
            Order.objects.filter(pk=order.pk).update(payment_intent_id=future.result())
    assert emulator.wait_for_deliveries(timeout=120)

    # then every order is fulfilled once and confirmed by one email
    numbers = {order.number for order in orders}
    confirmed = Order.objects.filter(pk__in=[o.pk for o in orders], confirmation_sent_at__isnull=False)
    # Bounded by beat's safety nets: a drain message lost with the killed worker (it added the
    # wake-up row, then died before publishing) is woken again after WAKEUP_LOST_AFTER (2
    # minutes), an event left pending is re-queued after REQUEUE_AFTER (5 minutes).
    wait_until(lambda: confirmed.count() == ORDERS, 420, "every order to be confirmed", processes)
    fulfillments = dict(Fulfillment.objects.values_list("order_id").annotate(n=Count("id")))
    assert set(fulfillments) == {order.pk for order in orders}
    assert set(fulfillments.values()) == {1}
    assert set(Order.objects.filter(pk__in=fulfillments).values_list("status", flat=True)) == {
        Order.Status.FULFILLED
    }
    wait_until(lambda: len(confirmation_subjects(mail)) >= ORDERS, 60, "the emails to be written", processes)
    subjects = confirmation_subjects(mail)
    assert len(subjects) == ORDERS
    assert {re.search(r"ORD-\d+", subject).group(0) for subject in subjects} == numbers  # type: ignore[union-attr]

    # and the metrics endpoint, on any web process, reports nothing left to do
    text = metrics(site) or ""
    assert 'stripe_events{status="pending"} 0.0' in text
    assert 'stripe_events{status="retrying"} 0.0' in text
    assert "stripe_events_dead_lettered 0.0" in text
    assert "stripe_events_oldest_pending_age_seconds 0.0" in text
