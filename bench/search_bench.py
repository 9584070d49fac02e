"""Benchmark the staff search: every kind of id lookup at a million orders.

    .venv/bin/python bench/search_bench.py [--orders 1000000] [--lookups 400] [--keep-db] [--reuse-db]

(`make bench-search`). Needs PostgreSQL on 127.0.0.1:5432 (user postgres); BENCH_PG_URL points
elsewhere. It (re)creates the database `bench_search`, migrates it, and seeds it in SQL with
`generate_series` (no Python per row): the orders (each with a `pi_`, a `ch_`, a customer shared
by 4 orders, an email shared by 4 orders in mixed case, every other one a `cs_`), and a tenth as
many PaymentIntent and Charge mirrors, refunds, events (each naming its order in metadata) and
disputes. Then it times `console.search.record_find` for random existing ids of each kind, and
for unknown ones, in this process (Django's ORM, psycopg, PostgreSQL on loopback). Per kind it
prints the wall time of `record_find` (p50, p99), PostgreSQL's own time for the lookup's
statements (planning + execution from `EXPLAIN (ANALYZE)`, summed, p50 and p99 of a sample: the
part an index decides, and the least disturbed by other work on a shared machine), this
process's CPU time per lookup (p50), and the plan (an index scan is expected everywhere).
The test database and the embedded default's SQLite are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from machine import cpu_model  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_search"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
TARGET_MS = 20.0


def create_database() -> None:
    with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


SEED_SQL = """
INSERT INTO orders_order (
    id, created_at, updated_at, public_token, email, name, billing_address, shipping_address,
    user_agent, amount, currency, amount_refunded, status, payment_intent_status, payment_state_at,
    payment_intent_id, checkout_session_id, charge_id, stripe_customer_id,
    payment_intent_idempotency_key, livemode, last_decline_code
)
SELECT i, now(), now(), 'tok_' || i,
       CASE WHEN i % 2 = 0 THEN 'Customer' ELSE 'customer' END || (i % %(emails)s) || '@example.com',
       'Bench Customer', '{}', '{}', '', 4200, 'gbp', 0, 'fulfilled', 'succeeded', 0,
       'pi_bench' || i, CASE WHEN i % 2 = 0 THEN 'cs_bench' || i END, 'ch_bench' || i,
       'cus_bench' || (i / 4), 'order:' || i || ':payment-intent:v1', false, ''
FROM generate_series(1, %(orders)s) AS i;
SELECT setval(pg_get_serial_sequence('orders_order', 'id'), %(orders)s);

INSERT INTO payments_paymentintent (
    created_at, updated_at, stripe_id, livemode, order_id, customer_id, status, status_at, amount,
    amount_received, currency, capture_method, latest_charge_id, last_error_code,
    last_error_decline_code, last_error_message, idempotency_key
)
SELECT now(), now(), 'pi_mirror' || i, false, i, 'cus_bench' || (i / 4), 'succeeded', 0, 4200, 4200,
       'gbp', 'automatic', 'ch_mirror' || i, '', '', '', ''
FROM generate_series(1, %(tenth)s) AS i;

INSERT INTO payments_charge (
    created_at, updated_at, stripe_id, livemode, order_id, status, status_at, paid, captured, amount,
    amount_captured, amount_refunded, currency, refunded, disputed, balance_transaction_id,
    failure_code, failure_message, outcome_network_status, outcome_reason, outcome_risk_level,
    outcome_type, card_brand, card_last4, card_country, card_funding, card_fingerprint,
    three_d_secure_result, three_d_secure_result_reason, three_d_secure_authentication_flow,
    three_d_secure_version, three_d_secure_electronic_commerce_indicator
)
SELECT now(), now(), 'ch_mirror' || i, false, i, 'succeeded', 0, true, true, 4200, 4200, 0, 'gbp',
       false, false, '', '', '', '', '', '', '', 'visa', '4242', 'GB', 'credit', '', '', '', '', '', ''
FROM generate_series(1, %(tenth)s) AS i;

INSERT INTO payments_refund (
    created_at, updated_at, stripe_id, livemode, order_id, payment_intent_id, charge_id, amount,
    currency, status, failure_reason
)
SELECT now(), now(), 're_bench' || i, false, i, 'pi_bench' || i, 'ch_bench' || i, 1000, 'gbp',
       'succeeded', ''
FROM generate_series(1, %(tenth)s) AS i;

INSERT INTO payments_stripeevent (
    created_at, updated_at, stripe_id, livemode, type, object_id, api_version, payload, status,
    source, attempts, last_error
)
SELECT now(), now(), 'evt_bench' || i, false, 'payment_intent.succeeded', 'pi_bench' || i,
       '2026-10-28.endive',
       jsonb_build_object('id', 'evt_bench' || i, 'type', 'payment_intent.succeeded', 'data',
           jsonb_build_object('object', jsonb_build_object(
               'id', 'pi_bench' || i, 'object', 'payment_intent',
               'metadata', jsonb_build_object('order_id', i::text)))),
       'processed', 'webhook', 1, ''
FROM generate_series(1, %(tenth)s) AS i;

INSERT INTO disputes_dispute (
    created_at, updated_at, stripe_id, livemode, charge_id, payment_intent_id, amount, currency,
    status, reason
)
SELECT now(), now(), 'du_bench' || i, false, 'ch_bench' || i, '', 4200, 'gbp', 'needs_response',
       'fraudulent'
FROM generate_series(1, %(tenth)s / 10) AS i;
"""


def seed(*, orders: int) -> float:
    from django.db import connection

    started = time.monotonic()
    values = {"orders": orders, "tenth": max(1, orders // 10), "emails": max(1, orders // 4)}
    sql = SEED_SQL
    for name, value in values.items():
        sql = sql.replace(f"%({name})s", str(value))
    with connection.cursor() as cursor:
        for statement in (part.strip() for part in sql.split(";")):
            if statement:
                cursor.execute(statement)
        cursor.execute("ANALYZE")
    return time.monotonic() - started


def kinds(*, orders: int) -> dict[str, Callable[[int], str]]:
    """Each kind of query, as a function of a random order pk."""
    tenth = max(1, orders // 10)
    return {
        "order number (ORD-)": lambda i: f"ORD-{i:06d}",
        "pi_ (order)": lambda i: f"pi_bench{i}",
        "pi_ (mirror only)": lambda i: f"pi_mirror{1 + i % tenth}",
        "ch_ (order)": lambda i: f"ch_bench{i}",
        "ch_ (charge mirror)": lambda i: f"ch_mirror{1 + i % tenth}",
        "re_": lambda i: f"re_bench{1 + i % tenth}",
        "cs_": lambda i: f"cs_bench{2 * (1 + i % (orders // 2))}" if orders > 1 else "cs_bench2",
        "cus_ (4 orders)": lambda i: f"cus_bench{i // 4}",
        "evt_": lambda i: f"evt_bench{1 + i % tenth}",
        "du_": lambda i: f"du_bench{1 + i % max(1, tenth // 10)}",
        "email (4 orders, any case)": lambda i: f"CUSTOMER{i % max(1, orders // 4)}@EXAMPLE.com",
        "unknown pi_": lambda i: f"pi_unknown{i}",
        "unknown email": lambda i: f"nobody{i}@example.com",
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def database_ms(query: str) -> float:
    """PostgreSQL's planning + execution time for the statements of one lookup."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from console.search import record_find

    with CaptureQueriesContext(connection) as captured:
        record_find(query=query)
    total = 0.0
    with connection.cursor() as cursor:
        for item in captured:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + item["sql"])
            row = cursor.fetchone()
            assert row is not None
            plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
            total += float(plan[0]["Planning Time"]) + float(plan[0]["Execution Time"])
    return total


def plan_of(query: str) -> str:
    """The scan each SQL statement of one lookup uses (first line of each plan)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from console.search import record_find

    with CaptureQueriesContext(connection) as captured:
        record_find(query=query)
    scans = []
    with connection.cursor() as cursor:
        for item in captured:
            cursor.execute("EXPLAIN " + item["sql"])
            lines = [line for (line,) in cursor.fetchall()]
            scan = next((line for line in lines if " using " in line), None) or next(
                (line for line in lines if "Scan" in line), lines[0]
            )
            scans.append(scan.strip().removeprefix("->").strip().split("  (")[0])
    return "; ".join(scans)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=400, help="timed lookups per kind")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", action="store_true", help="time an already seeded bench_search")
    args = parser.parse_args()

    if not args.reuse_db:
        create_database()
    os.environ["DATABASE_URL"] = f"{PG_ADMIN_URL}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from console.search import record_find

    try:
        seconds = 0.0
        if not args.reuse_db:
            call_command("migrate", verbosity=0)
            seconds = seed(orders=args.orders)
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            (pg_version,) = cursor.fetchone() or ("?",)
        print(f"search benchmark: {args.orders:,} orders, seeded in {seconds:.0f} s")
        machine = f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        print(f"{machine}, PostgreSQL {pg_version}")
        print(f"load {os.getloadavg()[0]:.2f}; {args.lookups} lookups per kind, record_find in-process\n")
        rng = random.Random(17)
        width = max(len(name) for name in kinds(orders=args.orders))
        columns = ("p50 ms", "p99 ms", "db p50", "db p99", "cpu p50")
        print(f"{'kind':<{width}}  " + "  ".join(f"{c:>7}" for c in columns) + "  plan")
        worst = worst_db = 0.0
        for name, make in kinds(orders=args.orders).items():
            for _ in range(20):  # warm the connection and the plan cache
                record_find(query=make(rng.randint(1, args.orders)))
            timings, cpu = [], []
            for _ in range(args.lookups):
                query = make(rng.randint(1, args.orders))
                started, started_cpu = time.perf_counter(), time.thread_time()
                found = record_find(query=query)
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
                if not name.startswith("unknown") and not found:
                    raise SystemExit(f"{name}: {query} found nothing")
            db = [database_ms(make(rng.randint(1, args.orders))) for _ in range(max(20, args.lookups // 4))]
            p50, p99 = statistics.median(timings), percentile(timings, 0.99)
            db50, db99 = statistics.median(db), percentile(db, 0.99)
            worst, worst_db = max(worst, p99), max(worst_db, db99)
            plan = plan_of(make(rng.randint(1, args.orders)))
            figures = (p50, p99, db50, db99, statistics.median(cpu))
            print(f"{name:<{width}}  " + "  ".join(f"{f:7.2f}" for f in figures) + f"  {plan}")
        verdict = "met" if worst < TARGET_MS else "MISSED"
        print(f"\nworst p99 {worst:.2f} ms wall ({verdict}: target under {TARGET_MS:.0f} ms)")
        print(f"worst p99 {worst_db:.2f} ms in PostgreSQL")
        print(f"load {os.getloadavg()[0]:.2f} at the end")
    finally:
        connection.close()
        if not args.keep_db:
            drop_database()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
