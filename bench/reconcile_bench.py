"""Benchmark the payout reconciliation: 100,000 balance transactions over 50 payouts, and the
finance API's page of a 10,000-line payout.

    .venv/bin/python bench/reconcile_bench.py [--payouts 50] [--lines 2000] [--big 10000] [--keep-db]
        [--trace-memory] [--emulator]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres; DATABASE_URL points elsewhere). Creates a
fresh database `bench_reconcile` with the test settings' migrations and drops it afterwards.

What is measured: our side only. Stripe's answers are generated in this process, page by page
(100 expanded transactions per page, as `GET /v1/balance_transactions?payout=…&expand[]=data.source`
returns them), behind `payments.stripe_gateway.balance_transaction_list`; no HTTP. Every line is
a charge of one of our orders (found through its `metadata.order_id`), so the linking does its
real queries.

With `--emulator` (`make bench-reconcile-emulator`), Stripe is the emulator instead, in its own
process (`python -m stripe_emulator`): `--payouts` payouts of `--lines` charges each are seeded
with `POST /_emulator/payouts/seed`, the clock is moved on until they are paid, and each is
synced and reconciled through the real gateway (`GET /v1/balance_transactions?payout=…
&expand[]=data.source` over HTTP, the stripe SDK's objects and all). The seeded charges carry
no metadata and we hold no mirror of them, so the linking runs its queries but finds no order;
the API page is not timed in this mode (it is our side only, timed by the default mode).

Printed: seconds and lines/s for the whole run, the process's peak RSS before and after it (flat
memory: the same whatever the number of lines; `--trace-memory` adds tracemalloc's peak), then
the p50/p95 of `GET /api/finance/payouts/<po_id>/` for a payout
with `--big` lines (20 requests after one warm-up).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["TEST_DATABASE_NAME"] = "bench_reconcile"

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from machine import cpu_model  # noqa: E402  (bench/ is on sys.path when a script here runs)

PAGE = 100
EMULATOR_KEY = "sk_test_bench_000000000000000000"


def transactions(
    payout_id: str, *, lines: int, order_pks: list[int], created: int
) -> Iterator[dict[str, Any]]:
    """A payout's balance transactions as Stripe lists them, generated one at a time."""
    total = 0
    for i in range(lines):
        amount = 1000 + i % 5000
        fee = amount * 3 // 100 + 20
        total += amount - fee
        order_pk = order_pks[i % len(order_pks)]
        yield {
            "id": f"txn_{payout_id}_{i:06d}",
            "object": "balance_transaction",
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "currency": "gbp",
            "type": "charge",
            "reporting_category": "charge",
            "status": "available",
            "created": created - lines + i,
            "available_on": created,
            "exchange_rate": None,
            "description": None,
            "fee_details": [
                {"amount": fee, "currency": "gbp", "description": "Stripe fees", "type": "stripe_fee"}
            ],
            "source": {
                "id": f"ch_{payout_id}_{i:06d}",
                "object": "charge",
                "amount": amount,
                "currency": "gbp",
                "payment_intent": f"pi_bench{order_pk}",
                "metadata": {"order_id": str(order_pk)},
            },
        }
    yield {
        "id": f"txn_{payout_id}_payout",
        "object": "balance_transaction",
        "amount": -total,
        "fee": 0,
        "net": -total,
        "currency": "gbp",
        "type": "payout",
        "reporting_category": "payout",
        "created": created,
        "available_on": created,
        "fee_details": [],
        "source": payout_id,
    }


def payout_amount(lines: int) -> int:
    return sum((1000 + i % 5000) - ((1000 + i % 5000) * 3 // 100 + 20) for i in range(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payouts", type=int, default=50)
    parser.add_argument("--lines", type=int, default=2000, help="lines per payout")
    parser.add_argument("--big", type=int, default=10000, help="lines of the payout whose page is timed")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--trace-memory", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument(
        "--emulator", action="store_true", help="list from the Stripe emulator over HTTP, through the SDK"
    )
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run_against_emulator(args) if args.emulator else run(args)
    finally:
        if not args.keep_db:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: argparse.Namespace) -> None:
    from orders.models import Order
    from payments import stripe_gateway
    from reconciliation.models import BalanceTransaction
    from reconciliation.services.payouts import payout_reconcile, payout_sync

    now = int(time.time())
    orders = Order.objects.bulk_create(
        Order(amount=4200, currency="gbp", status=Order.Status.FULFILLED, payment_intent_id=f"pi_bench{i}")
        for i in range(500)
    )
    order_pks = [order.pk for order in orders]
    plan: dict[str, int] = {}

    def listing(*, payout_id: str) -> Iterator[dict[str, Any]]:
        return transactions(payout_id, lines=plan[payout_id], order_pks=order_pks, created=now - 86400)

    stripe_gateway.balance_transaction_list = listing  # type: ignore[assignment]

    def add_payout(payout_id: str, lines: int) -> None:
        plan[payout_id] = lines
        payout_sync(
            obj={
                "id": payout_id,
                "object": "payout",
                "amount": payout_amount(lines),
                "currency": "gbp",
                "status": "paid",
                "automatic": True,
                "created": now - 3600,
                "arrival_date": now + 86400,
                "reconciliation_status": "completed",
                "trace_id": {"status": "supported", "value": f"TRACE-{payout_id}"},
            },
            source="bench",
        )

    payout_ids = [f"po_bench{i:03d}" for i in range(args.payouts)]
    for payout_id in payout_ids:
        add_payout(payout_id, args.lines)

    total_lines = args.payouts * (args.lines + 1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    for payout_id in payout_ids:
        result = payout_reconcile(payout_id=payout_id)
        assert result.reconciled, result
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if args.trace_memory else 0
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert BalanceTransaction.objects.count() == total_lines
    assert not BalanceTransaction.objects.filter(type="charge", order__isnull=True).exists()

    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"reconciled {args.payouts} payouts, {total_lines:,} balance transactions in {elapsed:.1f} s")
    print(f"  {total_lines / elapsed:,.0f} lines/s; every charge line linked to its order")
    print(f"  process peak RSS {rss_before / 1024:.0f} MB before, {rss_after / 1024:.0f} MB after")
    if args.trace_memory:
        print(f"  Python allocations peak {peak / 1e6:.1f} MB (tracemalloc, which slows the run)")

    big = "po_bench_big"
    add_payout(big, args.big)
    payout_reconcile(payout_id=big)
    client = Client()
    client.force_login(User.objects.create_superuser("bench", "bench@example.com", "pw"))
    url = f"/api/finance/payouts/{big}/"
    assert client.get(url).status_code == 200
    times = []
    for _ in range(20):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and len(response.json()["lines"]) == 100
    times.sort()
    print(
        f"GET {url} ({args.big:,} lines, a page of 100): p50 {statistics.median(times):.0f} ms, "
        f"p95 {times[int(len(times) * 0.95) - 1]:.0f} ms"
    )


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "--port", "0", "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["stripe_emulator"]


def emulator_call(url: str, path: str, body: dict[str, Any]) -> Any:
    from urllib.request import Request, urlopen

    request = Request(
        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def run_against_emulator(args: argparse.Namespace) -> None:
    from django.conf import settings

    from payments import stripe_gateway
    from reconciliation.models import BalanceTransaction, Payout
    from reconciliation.services.payouts import payout_reconcile, payout_sync

    # One log line per Stripe call is the gateway's normal output; here it would be 1,000 lines.
    logging.getLogger("payments.stripe_gateway").setLevel(logging.WARNING)
    logging.getLogger("reconciliation").setLevel(logging.WARNING)
    proc, url = start_emulator()
    try:
        settings.STRIPE_API_BASE = url
        settings.STRIPE_SECRET_KEY = EMULATOR_KEY
        started = time.perf_counter()
        payout_ids = [
            emulator_call(url, "/_emulator/payouts/seed", {"count": args.lines, "amount": 1000 + i})["payout"]
            for i in range(args.payouts)
        ]
        seeded = time.perf_counter() - started
        # pending → in transit an hour later → paid at the arrival date (the next 00:00 UTC + 1 day)
        emulator_call(url, "/_emulator/clock/advance", {"seconds": 3 * 86400})
        total_lines = args.payouts * (args.lines + 1)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if args.trace_memory:
            tracemalloc.start()
        started = time.perf_counter()
        for payout_id in payout_ids:
            payout_sync(obj=stripe_gateway.payout_retrieve(payout_id=payout_id), source="bench")
            result = payout_reconcile(payout_id=payout_id)
            assert result.reconciled and result.lines == args.lines + 1, result
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if args.trace_memory else 0
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert BalanceTransaction.objects.count() == total_lines
        assert Payout.objects.filter(reconciled=True, unexplained=0).count() == args.payouts
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"against the emulator: seeded {args.payouts} payouts of {args.lines:,} charges in {seeded:.1f} s")
    print(
        f"reconciled {args.payouts} payouts, {total_lines:,} balance transactions in {elapsed:.1f} s "
        "(listed over HTTP through the gateway, sources expanded)"
    )
    print(f"  {total_lines / elapsed:,.0f} transactions/s; every payout adds up to the penny")
    print(f"  process peak RSS {rss_before / 1024:.0f} MB before, {rss_after / 1024:.0f} MB after")
    if args.trace_memory:
        print(f"  Python allocations peak {peak / 1e6:.1f} MB (tracemalloc, which slows the run)")


if __name__ == "__main__":
    main()
