"""End-to-end speed: from Stripe's event to the order fulfilled, at a paced 100 paid orders/s.

    .venv/bin/python bench/e2e_bench.py [--orders 1000] [--rate 100] [--workers 1,2,4]

(`make bench-e2e`). The production shape on loopback, as `bench/webhook_bench.py` builds it:
`config.settings.production`, a fresh PostgreSQL database `bench_payments`, Redis db 13 as the
broker, gunicorn with 2 sync workers, and a Celery worker on the `webhooks` queue with 1, 2 and
4 pool processes (a separate one-process worker sends the confirmation emails from the `emails`
queue, as in the Procfile). The sender signs `payment_intent.succeeded` events for seeded orders
and posts them at an open-loop pace of --rate per second; an order's latency runs from its
event's scheduled send time to the commit of its Fulfillment row (`created_at`, written by the
worker on the same machine's clock). Needs PostgreSQL on 127.0.0.1:5432 and Redis on 6379.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model
from webhook_bench import (
    VENV_BIN,
    Delivery,
    Stack,
    payment_intent_event,
    print_table,
    run_concurrent,
    step,
    versions,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def wait_ready(log: Path, seen: int, timeout: float = 60) -> None:
    """Until the worker writing `log` says "ready" for the (seen + 1)-th time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(" ready.") > seen:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not start; see {log}")


def ready_count(log: Path) -> int:
    return log.read_text(errors="replace").count(" ready.") if log.exists() else 0


def run_shape(stack: Stack, *, orders: int, rate: float, concurrency: int) -> tuple[str, ...]:
    pks = stack.seed_orders(orders)
    deliveries = [Delivery(payment_intent_event(order_pk=pk)) for pk in pks]
    worker_log, emails_log = stack.logs / "worker.log", stack.logs / "worker-emails.log"
    seen = ready_count(worker_log), ready_count(emails_log)
    stack.start_worker(concurrency=concurrency, queues="webhooks")
    emails = stack._spawn(
        "worker-emails",
        [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", "emails", "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", "bench-emails@%h"],
    )  # fmt: skip
    wait_ready(worker_log, seen[0])  # both workers up before the first event
    wait_ready(emails_log, seen[1])
    start_wall = time.time() + 0.05  # run_concurrent schedules delivery i at start + i/rate
    result = run_concurrent(stack.port, deliveries, senders=8, rate=rate)
    deadline = time.monotonic() + max(120.0, orders / 5)
    with stack.db() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM orders_fulfillment WHERE order_id = ANY(%s)", (pks,)
            ).fetchone()
            if row and row[0] == orders:
                break
            time.sleep(0.2)
        rows = conn.execute(
            "SELECT order_id, extract(epoch FROM created_at) FROM orders_fulfillment "
            "WHERE order_id = ANY(%s)",
            (pks,),
        ).fetchall()
    stack.stop_worker()
    Stack._stop(emails)
    position = {pk: i for i, pk in enumerate(pks)}
    latencies = [(float(at) - (start_wall + position[pk] / rate)) * 1000 for pk, at in rows]
    acked = result.statuses.get(200, 0)
    return (
        f"{concurrency}",
        f"{acked}/{orders}",
        f"{len(rows)}/{orders}",
        f"{percentile(latencies, 0.5):.0f} ms" if latencies else "-",
        f"{percentile(latencies, 0.99):.0f} ms" if latencies else "-",
        f"{max(latencies):.0f} ms" if latencies else "-",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000, help="paid orders per shape (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="paid orders per second (default 100)")
    parser.add_argument("--workers", default="1,2,4", help="pool processes of the webhooks worker")
    args = parser.parse_args()
    shapes = [int(n) for n in args.workers.split(",")]
    print(f"machine: {cpu_model()}; {versions()}")
    stack = Stack(keep_db=False)
    rows = []
    try:
        step("creating and migrating bench_payments")
        stack.create_database()
        stack.start_web()
        for concurrency in shapes:
            step(f"{args.orders} orders at {args.rate:.0f}/s, webhooks worker with {concurrency} process(es)")
            rows.append(run_shape(stack, orders=args.orders, rate=args.rate, concurrency=concurrency))
    finally:
        stack.close(keep_logs=False)
    print()
    print_table(("worker processes", "acknowledged", "fulfilled", "p50", "p99", "max"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
