"""Benchmark the Stripe webhook inbox: how fast we acknowledge, and how fast one worker processes.

    .venv/bin/python bench/webhook_bench.py [--events 1000] [--quick] [--pool prefork|solo]
        [--concurrency 1] [--keep-db]

(`make bench-webhook`). Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 6379;
BENCH_PG_URL and BENCH_REDIS_URL point elsewhere. Takes about 5 minutes; --quick about 2.

The product in its production shape on loopback: `config.settings.production` (DEBUG off), a
fresh PostgreSQL database `bench_payments` (migrated with `manage.py migrate`), Redis db 13 as
the Celery broker, gunicorn with 2 sync workers, and one Celery worker (prefork, concurrency 1
unless --concurrency says otherwise).
The anchor is dj-stripe 2.11 measured on this machine in the same shape.

The sender is a loopback client (http.client, keep-alive requested, threads) that signs each
body as Stripe does (`t=…,v1=` HMAC-SHA256 of "{t}.{body}" with the first configured secret) and
times each request from sending it (or, when paced, from its scheduled time) to the end of the
answer. Events are `payment_intent.succeeded` snapshots of ~2.5 KB, each for one of the orders
seeded beforehand, so that the worker does the real work: the order is locked, marked paid and
fulfilled (a unique Fulfillment row), and a confirmation email task is queued and sent (to
Django's dummy email backend). A second worker figure uses events that match no order.

Phases (the worker is stopped during the acknowledgement phases, so its CPU does not compete; the
events they store become the worker's backlog):
  1. acknowledgement latency one at a time;
  2. acknowledgement latency at a paced 200 events/s (8 senders, open loop: latency counts from
     the scheduled send time, so a sender that falls behind is counted, not hidden);
  3. acknowledged throughput with 8 concurrent senders: unique events, then a mix where half the
     deliveries resend an id already acknowledged;
  4. one worker started on the stored backlog: events/s from the first to the last processed;
  5. the same for events that match no order (stored and marked ignored).

The machine is usually shared, so each phase also reports where the CPU went (from /proc): the
product's processes, PostgreSQL + Redis, this sender, and everything else.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import redis
from machine import cpu_model  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DB_NAME = "bench_payments"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SECRETS = ("whsec_bench_current_0123456789abcdef", "whsec_bench_previous_0123456789abcdef")
API_VERSION = "2026-10-28.endive"
WEBHOOK_PATH = "/stripe/webhook/"
SENDERS = 8
PACED_RATE = 200.0

# dj-stripe 2.11 measured on this machine: gunicorn, 2 sync workers, PostgreSQL (dj-stripe
# processes the event inside the request, so it has no separate worker figure).
ANCHOR = {
    "seq_p50": 27.7,
    "seq_p99": 42.8,
    "concurrent": 58.0,
}
TARGETS = {"paced_p99": 20.0, "throughput": 800.0, "worker": 300.0}


# ---------------------------------------------------------------------------- machine


def versions() -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, gunicorn, celery, psycopg; "
            "print(f'Django {django.__version__}, gunicorn {gunicorn.__version__}, "
            "Celery {celery.__version__}, psycopg {psycopg.__version__}')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with psycopg.connect(f"{PG_ADMIN_URL}/postgres") as conn:
        row = conn.execute("SHOW server_version").fetchone()
    pg = row[0] if row else "?"
    info: dict[str, Any] = redis.Redis.from_url(REDIS_URL).info("server")  # type: ignore[assignment]
    return f"{out}, PostgreSQL {pg}, Redis {info.get('redis_version', '?')}"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


# ---------------------------------------------------------------------------- events


def sign(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _rand(n: int) -> str:
    return secrets.token_hex(n)[:n]


def payment_intent_event(*, order_pk: int | None, amount: int = 4200) -> bytes:
    """A `payment_intent.succeeded` Event shaped like Stripe's (API 2026-10-28), ~2.5 KB.
    With `order_pk` None its PaymentIntent belongs to no order of ours."""
    now = int(time.time())
    pi_id = f"pi_3{_rand(23)}"
    ch_id = f"ch_3{_rand(23)}"
    metadata = {"order_id": str(order_pk), "order_number": f"ORD-{order_pk:06d}"} if order_pk else {}
    address = {
        "city": "London",
        "country": "GB",
        "line1": "1 Example Street",
        "line2": None,
        "postal_code": "EC1A 1BB",
        "state": None,
    }
    pi: dict[str, Any] = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{pi_id}_secret_{_rand(25)}",
        "confirmation_method": "automatic",
        "created": now - 3,
        "currency": "gbp",
        "customer": f"cus_{_rand(14)}",
        "description": f"Order ORD-{order_pk or 0:06d}",
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": ch_id,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": f"pm_{_rand(24)}",
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": {
            "address": address,
            "carrier": None,
            "name": "Jenny Rosen",
            "phone": None,
            "tracking_number": None,
        },
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    event = {
        "id": f"evt_3{_rand(23)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": {
            "object": pi,
            "previous_attributes": {"amount_received": 0, "latest_charge": None, "status": "processing"},
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{_rand(14)}", "idempotency_key": f"order:{order_pk or 0}:payment-intent:v1"},
        "type": "payment_intent.succeeded",
    }
    # Stripe's deliveries are pretty-printed JSON, which is what brings them to this size.
    return json.dumps(event, indent=2).encode()


# ---------------------------------------------------------------------------- the stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """The database, the broker, gunicorn and the worker, and their cleanup (also on Ctrl-C)."""

    def __init__(self, *, keep_db: bool) -> None:
        self.keep_db = keep_db
        self.port = free_port()
        self.logs = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": f"http://127.0.0.1:{self.port}",
            "DATABASE_URL": f"{PG_ADMIN_URL}/{DB_NAME}",
            "CELERY_BROKER_URL": REDIS_URL,
            "STRIPE_SECRET_KEY": "sk_test_bench_000000000000000000",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_bench_000000000000000000",
            "STRIPE_WEBHOOK_SECRETS": ",".join(SECRETS),
            # Nothing on this path calls Stripe; a closed port makes sure nothing could.
            "STRIPE_API_BASE": "http://127.0.0.1:9",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "ALERT_EMAILS": "",
            "ALERT_CHAT_WEBHOOK_URL": "",
            "LOG_FORMAT": "json",
            # Plain HTTP on loopback: no redirect to HTTPS (production turns it on by default).
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "INFO",
        }

    # -- database and broker

    def create_database(self) -> None:
        assert DB_NAME not in ("test_payments", "payments")
        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        redis.Redis.from_url(REDIS_URL).flushdb()
        self.manage("migrate", "--noinput")

    def drop_database(self) -> None:
        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args[:1])} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def seed_orders(self, count: int) -> list[int]:
        """`count` orders awaiting payment, one item each, created through the ORM."""
        code = f"""
import json
from orders.models import Order, OrderItem
orders = Order.objects.bulk_create(
    Order(email=f"customer{{i}}@example.com", name="Jenny Rosen", amount=4200, currency="gbp",
          status=Order.Status.AWAITING_PAYMENT, billing_address={{"country": "GB"}},
          shipping_address={{"country": "GB"}})
    for i in range({count})
)
OrderItem.objects.bulk_create(
    OrderItem(order=o, product_name="Bench mug", sku="MUG-1", unit_amount=4200, quantity=1, currency="gbp")
    for o in orders
)
print(json.dumps([o.pk for o in orders]))
"""
        return [int(pk) for pk in json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])]

    def db(self) -> psycopg.Connection[Any]:
        return psycopg.connect(f"{PG_ADMIN_URL}/{DB_NAME}", autocommit=True)

    # -- processes

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        # Own session: Ctrl-C reaches only us, and we stop the whole group in order.
        return subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_web(self) -> None:
        self.web = self._spawn(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi:application",
                "--workers=2",
                "--worker-class=sync",
                f"--bind=127.0.0.1:{self.port}",
            ],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.logs / 'gunicorn.log'}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz; see {self.logs / 'gunicorn.log'}")

    def start_worker(
        self, *, pool: str = "prefork", concurrency: int = 1, queues: str = "webhooks,emails,finance"
    ) -> None:
        args = [str(VENV_BIN / "celery"), "-A", "config", "worker", f"--pool={pool}", "-Q", queues]
        args += [f"--concurrency={1 if pool == 'solo' else concurrency}"]
        args += ["--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"bench-{pool}@%h"]
        self.worker = self._spawn("worker", args)

    def stop_worker(self) -> None:
        self._stop(self.worker)
        self.worker = None

    def groups(self) -> list[int]:
        """Process groups of our children (each leads its own session)."""
        return [proc.pid for proc in (self.web, self.worker) if proc is not None]

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def close(self, *, keep_logs: bool) -> None:
        self._stop(self.worker)
        self._stop(self.web)
        self.worker = self.web = None
        try:
            redis.Redis.from_url(REDIS_URL).flushdb()
            if not self.keep_db:
                self.drop_database()
        except Exception as error:
            print(f"cleanup: {type(error).__name__}: {error}", file=sys.stderr)
        if keep_logs:
            print(f"logs kept in {self.logs}", file=sys.stderr)
        else:
            shutil.rmtree(self.logs, ignore_errors=True)


# ---------------------------------------------------------------------------- the sender


@dataclass
class Delivery:
    body: bytes
    signature: str = ""


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def acked(self) -> int:
        return self.statuses.get(200, 0)

    def rate(self) -> float:
        return self.acked / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = math.ceil(q * len(ordered) / 100 - 1e-9)  # nearest rank
        return ordered[min(len(ordered), max(1, rank)) - 1]

    def latency(self) -> str:
        return f"p50 {self.pct(50):.1f} ms, p99 {self.pct(99):.1f} ms"

    def merge(self, other: Result) -> None:
        self.latencies_ms += other.latencies_ms
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count


def sign_all(deliveries: Sequence[Delivery]) -> None:
    """Sign just before a phase starts, as Stripe signs at delivery time (tolerance 300 s)."""
    now = int(time.time())
    for delivery in deliveries:
        delivery.signature = sign(delivery.body, SECRETS[0], now)


class Sender:
    """One keep-alive connection. gunicorn's sync workers close after every answer, so
    http.client opens a new one for the next request, as any client of that server must."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, delivery: Delivery) -> int:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": delivery.signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Connection": "keep-alive",
        }
        try:
            self.conn.request("POST", WEBHOOK_PATH, body=delivery.body, headers=headers)
            response = self.conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0


def run_sequential(port: int, deliveries: Sequence[Delivery]) -> Result:
    sign_all(deliveries)
    sender, result = Sender(port), Result()
    start = time.perf_counter()
    for delivery in deliveries:
        t0 = time.perf_counter()
        status = sender.post(delivery)
        result.latencies_ms.append((time.perf_counter() - t0) * 1000)
        result.statuses[status] = result.statuses.get(status, 0) + 1
    result.elapsed = time.perf_counter() - start
    return result


def run_concurrent(port: int, deliveries: Sequence[Delivery], *, senders: int, rate: float | None) -> Result:
    """`senders` threads share the deliveries in order. With `rate`, delivery i is due at
    start + i/rate (open loop) and its latency counts from then; without, as fast as they can."""
    sign_all(deliveries)
    lock = threading.Lock()
    cursor = iter(range(len(deliveries)))
    results = [Result() for _ in range(senders)]
    start = time.perf_counter() + (0.05 if rate else 0.0)

    def work(result: Result) -> None:
        sender = Sender(port)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            due = start + index / rate if rate else time.perf_counter()
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t0 = time.perf_counter()
            status = sender.post(deliveries[index])
            result.latencies_ms.append((time.perf_counter() - min(t0, due)) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=work, args=(r,), daemon=True) for r in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Result(elapsed=time.perf_counter() - start)
    for result in results:
        total.merge(result)
    return total


# ---------------------------------------------------------------------------- contention

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STORES = ("postgres", "redis-server")


@dataclass
class Cpu:
    """CPU seconds over a phase: the whole machine, the product's processes (gunicorn, the
    worker), this sender, and PostgreSQL + Redis (which other work on the machine uses too)."""

    wall: float = 0.0
    busy: float = 0.0
    product: float = 0.0
    sender: float = 0.0
    stores: float = 0.0
    events: int = 0

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(
            wall=self.wall - other.wall,
            busy=self.busy - other.busy,
            product=self.product - other.product,
            sender=self.sender - other.sender,
            stores=self.stores - other.stores,
        )

    def describe(self) -> str:
        if self.wall <= 0:
            return ""
        other = max(0.0, self.busy - self.product - self.sender - self.stores)
        cores = os.cpu_count() or 1
        wall = self.wall
        text = (
            f"machine {self.busy / wall / cores:.0%} busy; in cores: product {self.product / wall:.2f}, "
            f"PostgreSQL+Redis {self.stores / wall:.2f}, sender {self.sender / wall:.2f}, "
            f"other work {other / wall:.2f}"
        )
        if self.events:
            per_event = (self.product + self.stores) / self.events * 1000
            text += f"; product+PostgreSQL+Redis {per_event:.1f} ms CPU per event"
        return text


def cpu_now(groups: Sequence[int]) -> Cpu:
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    sample = Cpu(wall=time.perf_counter(), busy=(user + nice + system + irq + softirq) / CLOCK_TICKS)
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        if int(entry) == me:
            sample.sender += seconds
        elif int(fields[2]) in groups:
            sample.product += seconds
        elif comm in STORES:
            sample.stores += seconds
    return sample


# ---------------------------------------------------------------------------- the worker


@dataclass
class WorkerRun:
    events: int
    span: float  # first to last processed_at
    statuses: dict[str, int]
    cpu: Cpu
    emails: int = 0
    emails_span: float = 0.0  # first processed_at to the last confirmation email sent

    def rate(self) -> float:
        return (self.events - 1) / self.span if self.span > 0 else float("nan")

    def email_rate(self) -> float:
        return self.emails / self.emails_span if self.emails_span > 0 else float("nan")


def open_count(conn: psycopg.Connection[Any], after_pk: int) -> tuple[int, int]:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'retrying')), count(*) "
        "FROM payments_stripeevent WHERE id > %s",
        (after_pk,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def unsent_emails(conn: psycopg.Connection[Any], orders_from: int) -> tuple[int, int]:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE o.confirmation_sent_at IS NULL), count(*) FROM orders_order o "
        "JOIN orders_fulfillment f ON f.order_id = o.id WHERE o.id >= %s",
        (orders_from,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_worker(
    stack: Stack, *, after_pk: int, orders_from: int | None, pool: str, concurrency: int
) -> WorkerRun:
    """Start one worker on the stored backlog (rows with id > after_pk) and wait until every row
    is done; with `orders_from`, also until the confirmation emails of those orders are sent.
    The rate is taken from the rows' own processed_at, so the worker's boot is not counted."""
    with stack.db() as conn:
        waiting, total = open_count(conn, after_pk)
        stack.start_worker(pool=pool, concurrency=concurrency)
        deadline = time.perf_counter() + max(180.0, total / 10)
        # CPU is counted from the first event done, so the worker's boot is left out too.
        while waiting == total and time.perf_counter() < deadline:
            time.sleep(0.02)
            waiting, _ = open_count(conn, after_pk)
        before, left = cpu_now(stack.groups()), waiting
        while waiting and time.perf_counter() < deadline:
            time.sleep(0.1)
            waiting, _ = open_count(conn, after_pk)
        if waiting:
            raise RuntimeError(f"{waiting} events still open; see {stack.logs / 'worker.log'}")
        emails = 0
        if orders_from is not None:
            unsent, emails = unsent_emails(conn, orders_from)
            while unsent and time.perf_counter() < deadline:
                time.sleep(0.1)
                unsent, emails = unsent_emails(conn, orders_from)
        cpu = cpu_now(stack.groups()) - before
        cpu.events = left
        stack.stop_worker()
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM payments_stripeevent WHERE id > %s GROUP BY status", (after_pk,)
            ).fetchall()
        )
        row = conn.execute(
            "SELECT min(processed_at), max(processed_at) FROM payments_stripeevent "
            "WHERE id > %s AND status IN ('processed', 'ignored')",
            (after_pk,),
        ).fetchone()
        assert row is not None and row[0] is not None
        first, last = row
        run = WorkerRun(events=total, span=(last - first).total_seconds(), statuses=statuses, cpu=cpu)
        if orders_from is not None:
            sent = conn.execute(
                "SELECT max(confirmation_sent_at) FROM orders_order WHERE id >= %s", (orders_from,)
            ).fetchone()
            if sent and sent[0]:
                run.emails, run.emails_span = emails, (sent[0] - first).total_seconds()
    return run


def max_pk(stack: Stack) -> int:
    with stack.db() as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM payments_stripeevent").fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def errors(result: Result) -> str:
    bad = {s: n for s, n in result.statuses.items() if s != 200}
    return "" if not bad else "; errors " + ", ".join(f"{s or 'conn'}×{n}" for s, n in sorted(bad.items()))


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def measured(stack: Stack, run: Callable[[], Result]) -> tuple[Result, Cpu]:
    before = cpu_now(stack.groups())
    result = run()
    cpu = cpu_now(stack.groups()) - before
    cpu.events = sum(result.statuses.values())
    print(f"    {cpu.describe()}", flush=True)
    return result, cpu


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000, help="events per phase (default 1000)")
    parser.add_argument("--quick", action="store_true", help="a short run: 300 events per phase")
    parser.add_argument("--pool", choices=("prefork", "solo"), default="prefork", help="the worker's pool")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="the worker's pool processes (default 1; Celery's own default is one per CPU)",
    )
    parser.add_argument("--keep-db", action="store_true", help=f"leave the {DB_NAME} database behind")
    args = parser.parse_args()
    n = 300 if args.quick else max(args.events, 100)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the run and cleans up, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    machine = f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}"
    print(f"machine: {machine}; {versions()}")
    stack = Stack(keep_db=args.keep_db)
    notes: list[str] = []
    finished = False
    try:
        print(f"started {datetime.now().isoformat(timespec='seconds')}, {load()}; logs in {stack.logs}")
        step(f"fresh database {DB_NAME}, migrate")
        stack.create_database()

        warmup = 100
        real_events = warmup + n + n + 2 * n + n
        step(f"seed {real_events} orders awaiting payment")
        order_pks = stack.seed_orders(real_events)
        deliveries = [Delivery(payment_intent_event(order_pk=pk)) for pk in order_pks]
        sizes = sorted(len(d.body) for d in deliveries)
        print(f"    payload {sizes[0]}–{sizes[-1]} bytes: payment_intent.succeeded, one per seeded order")
        batches: dict[str, list[Delivery]] = {}
        offset = 0
        for name, count in (("warmup", warmup), ("seq", n), ("paced", n), ("unique", 2 * n), ("new", n)):
            batches[name] = deliveries[offset : offset + count]
            offset += count
        # Half new events, half ids already acknowledged (re-sent with a fresh signature, as Stripe does).
        mix = batches["new"] + [Delivery(d.body) for d in random.sample(batches["unique"], n)]
        random.shuffle(mix)

        step("gunicorn, 2 sync workers; warm-up")
        stack.start_web()
        run_sequential(stack.port, batches["warmup"])

        step(f"1/5 one at a time: {n} events")
        seq, seq_cpu = measured(stack, lambda: run_sequential(stack.port, batches["seq"]))
        step(f"2/5 paced at {PACED_RATE:.0f}/s: {n} events from {SENDERS} senders")
        paced, paced_cpu = measured(
            stack, lambda: run_concurrent(stack.port, batches["paced"], senders=SENDERS, rate=PACED_RATE)
        )
        step(f"3/5 {SENDERS} concurrent senders: {2 * n} unique events")
        unique, unique_cpu = measured(
            stack, lambda: run_concurrent(stack.port, batches["unique"], senders=SENDERS, rate=None)
        )
        step(f"    {SENDERS} concurrent senders: {len(mix)} deliveries, half of them resent ids")
        dup, dup_cpu = measured(stack, lambda: run_concurrent(stack.port, mix, senders=SENDERS, rate=None))

        with stack.db() as conn:
            row = conn.execute("SELECT count(*) FROM payments_stripeevent").fetchone()
        rows_stored = int(row[0]) if row else 0
        check = "" if rows_stored == real_events else " !! MISMATCH"
        notes.append(f"{rows_stored} rows for {real_events} unique events, none for {n} resends{check}")

        worker = f"one worker ({args.pool}, concurrency {args.concurrency})"
        step(f"4/5 {worker} on the backlog of {rows_stored} stored events")
        real = run_worker(
            stack, after_pk=0, orders_from=min(order_pks), pool=args.pool, concurrency=args.concurrency
        )
        print(f"    {real.cpu.describe()}")
        with stack.db() as conn:
            row = conn.execute("SELECT count(*) FROM orders_fulfillment").fetchone()
        fulfilled = int(row[0]) if row else 0
        notes.append(
            f"worker: events {real.statuses}; {fulfilled} orders fulfilled for {real_events} paid; "
            f"{real.emails} confirmation emails sent"
        )

        step(f"5/5 {worker} on {n} stored events that match no order")
        before = max_pk(stack)
        nomatch = [Delivery(payment_intent_event(order_pk=None)) for _ in range(n)]
        run_concurrent(stack.port, nomatch, senders=SENDERS, rate=None)
        none = run_worker(
            stack, after_pk=before, orders_from=None, pool=args.pool, concurrency=args.concurrency
        )
        print(f"    {none.cpu.describe()}")
        notes.append(f"worker, no matching order: events {none.statuses}")
        print(f"finished {datetime.now().isoformat(timespec='seconds')}, {load()}")
        finished = True
    finally:
        stack.close(keep_logs=not finished)

    throughput, worker_target = TARGETS["throughput"], TARGETS["worker"]
    rows = [
        (
            "ack latency, one at a time",
            f"{seq.latency()}{errors(seq)}",
            f"p50 {ANCHOR['seq_p50']} ms, p99 {ANCHOR['seq_p99']} ms",
            "",
        ),
        (
            f"ack latency, paced {PACED_RATE:.0f}/s",
            f"{paced.latency()} ({paced.rate():.0f}/s){errors(paced)}",
            "",
            f"p99 < {TARGETS['paced_p99']:.0f} ms: {verdict(paced.pct(99) < TARGETS['paced_p99'])}",
        ),
        (
            f"acked/s, {SENDERS} senders, unique ids",
            f"{unique.rate():.0f}/s ({unique.latency()}){errors(unique)}",
            f"{ANCHOR['concurrent']:.0f}/s",
            f"≥ {throughput:.0f}/s: {verdict(unique.rate() >= throughput)}",
        ),
        (
            f"acked/s, {SENDERS} senders, 50% resent",
            f"{dup.rate():.0f}/s ({dup.latency()}){errors(dup)}",
            "",
            f"≥ {throughput:.0f}/s: {verdict(dup.rate() >= throughput)}",
        ),
        (
            "1 worker: paid → fulfilled",
            f"{real.rate():.0f} events/s ({real.events} events in {real.span:.1f} s)",
            "(in the request)",
            f"≥ {worker_target:.0f}/s: {verdict(real.rate() >= worker_target)}",
        ),
        (
            "  … and each confirmation email sent",
            f"{real.email_rate():.0f} orders/s ({real.emails} in {real.emails_span:.1f} s)",
            "",
            "",
        ),
        (
            "1 worker: no matching order",
            f"{none.rate():.0f} events/s ({none.events} events in {none.span:.1f} s)",
            "",
            f"≥ {worker_target:.0f}/s: {verdict(none.rate() >= worker_target)}",
        ),
    ]
    print()
    print(
        "Webhook inbox: config.settings.production (DEBUG off), gunicorn 2 sync workers, PostgreSQL, "
        f"Redis broker, 1 Celery worker ({args.pool}, concurrency {args.concurrency})"
    )
    print(f"machine: {machine}")
    print_table(("measure", "this project", "anchor: dj-stripe 2.11", "target"), rows)
    print("CPU while measuring (2 cores are shared with whatever else runs):")
    for name, cpu in (
        ("one at a time", seq_cpu),
        ("paced", paced_cpu),
        ("8 senders, unique", unique_cpu),
        ("8 senders, 50% resent", dup_cpu),
        ("worker, paid + email", real.cpu),
        ("worker, no order", none.cpu),
    ):
        print(f"  {name:22s} {cpu.describe()}")
    for note in notes:
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; our processes are stopped", file=sys.stderr)
        sys.exit(130)
