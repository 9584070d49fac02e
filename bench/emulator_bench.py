"""Benchmark the Stripe emulator: API requests/s, signed webhook deliveries/s, and a big payout.

    .venv/bin/python bench/emulator_bench.py [--seconds 5] [--clients 4] [--events 3000]
                                             [--payout-size 100000]

Starts `python -m stripe_emulator` as a subprocess (request validation on, as always) and a
loopback webhook receiver in another process that answers 200 at once. API figure: keep-alive
http.client clients alternating create/retrieve of customers. Webhook figure: events are created
with deliveries paused, then released; deliveries/s is measured from release to the last 2xx.
Payout figures: 100,000 available charge transactions are seeded (`/_emulator/payouts/seed`),
one payout run over them is timed, then the payout's balance transactions are listed through the
stripe SDK's auto-pagination (100 a page), as reconciliation does: with `expand[]=data.source`,
and without (`--no-sdk` leaves those two out: they take minutes), and through the product's
gateway (`payments.stripe_gateway.balance_transaction_list`: raw_request pages, plain JSON, the
API budget off). The client's peak RSS is read after the first 10,000 and at the end (flat = equal).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from machine import cpu_model  # bench/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_bench_000000000000000000"


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "--port", "0", "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["stripe_emulator"]
    return proc, url


def _receiver(port_queue: multiprocessing.Queue, count: multiprocessing.Value) -> None:  # type: ignore[type-arg]
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            with count.get_lock():
                count.value += 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: str = "", json_body: bool = False
) -> dict:
    headers = {"Authorization": f"Bearer {KEY}"}
    if method == "POST":
        headers["Content-Type"] = "application/json" if json_body else "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path} → {resp.status}: {data[:200]!r}")
    return json.loads(data) if data else {}


def api_client(url: str, seconds: float, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    done = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        cus = call(conn, "POST", "/v1/customers", f"email=c{done}%40example.com&metadata[n]={done}")
        call(conn, "GET", f"/v1/customers/{cus['id']}")
        done += 2
    results.put(done)


def bench_api(url: str, seconds: float, clients: int) -> float:
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=api_client, args=(url, seconds, results)) for _ in range(clients)]
    start = time.time()
    for p in procs:
        p.start()
    total = sum(results.get() for _ in procs)
    for p in procs:
        p.join()
    return total / (time.time() - start)


def bench_webhooks(url: str, events: int) -> tuple[float, int]:
    port_queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    count = multiprocessing.Value("i", 0)
    recv = multiprocessing.Process(target=_receiver, args=(port_queue, count), daemon=True)
    recv.start()
    port = port_queue.get()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    call(conn, "POST", "/_emulator/reset", "{}", json_body=True)
    call(
        conn,
        "POST",
        "/_emulator/webhook_endpoints",
        json.dumps({"url": f"http://127.0.0.1:{port}/hook"}),
        True,
    )
    call(conn, "POST", "/_emulator/webhooks/config", json.dumps({"paused": True}), True)

    def make(n: int) -> None:
        c = http.client.HTTPConnection(parts.hostname, parts.port)
        for i in range(n):
            call(c, "POST", "/v1/customers", f"name=w{i}")

    threads = [threading.Thread(target=make, args=(events // 4,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = (events // 4) * 4
    start = time.time()
    call(conn, "POST", "/_emulator/webhooks/config", json.dumps({"paused": False}), True)
    while count.value < expected and time.time() - start < 120:
        time.sleep(0.005)
    elapsed = time.time() - start
    recv.terminate()
    return count.value / elapsed, count.value


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_gateway_listing(url: str, payout: str, size: int) -> float:
    """Balance transactions a second through the product's gateway, `expand[]=data.source`."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        STRIPE_API_BASE=url,
        STRIPE_SECRET_KEY=KEY,
        STRIPE_RATE_LIMIT_TEST="0",  # the budget off: this measures the listing, not the limit
    )
    import django

    django.setup()
    from payments import stripe_gateway

    listed, net, started = 0, 0, time.perf_counter()
    for txn in stripe_gateway.balance_transaction_list(payout_id=payout):
        listed += 1
        net += txn["net"]
        assert txn["type"] == "payout" or txn["source"]["object"] == "charge"
    elapsed = time.perf_counter() - started
    assert listed == size + 1 and net == 0, (listed, net)
    return listed / elapsed


def bench_payout(url: str, size: int, sdk: bool = True) -> dict[str, float]:
    import logging

    import stripe

    logging.disable(logging.INFO)  # one log line per page would measure the terminal

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    call(conn, "POST", "/_emulator/reset", "{}", json_body=True)
    seed = json.dumps({"count": size, "currency": "gbp", "amount": 1000, "pay_out": False})
    started = time.perf_counter()
    call(conn, "POST", "/_emulator/payouts/seed", seed, True)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    (payout,) = call(conn, "POST", "/_emulator/payouts/run", "{}", True)["payouts"]
    computed = time.perf_counter() - started
    client = stripe.StripeClient(KEY, base_addresses={"api": url}, max_network_retries=0)
    out = {"seed_s": seeded, "payout_s": computed}
    out["gateway_per_s"] = bench_gateway_listing(url, payout, size)
    for label, expand in (("expanded", ["data.source"]), ("plain", [])) if sdk else ():
        params = {"payout": payout, "limit": 100, "expand": expand}
        listed, net, early_rss = 0, 0, 0.0
        started = time.perf_counter()
        for txn in client.v1.balance_transactions.list(params=params).auto_paging_iter():
            listed += 1
            net += txn.net
            if listed == 10_000:
                early_rss = _peak_rss_mb()
        elapsed = time.perf_counter() - started
        assert listed == size + 1 and net == 0, (listed, net)
        out[f"{label}_per_s"] = listed / elapsed
        out[f"{label}_rss_10k"] = early_rss
        out[f"{label}_rss_end"] = _peak_rss_mb()
    # The emulator alone: the same pages over one keep-alive connection, no SDK objects built.
    started, listed, after = time.perf_counter(), 0, ""
    while True:
        query = f"payout={payout}&limit=100&expand[]=data.source" + (
            f"&starting_after={after}" if after else ""
        )
        page = call(conn, "GET", f"/v1/balance_transactions?{query}")
        listed += len(page["data"])
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    out["raw_per_s"] = listed / (time.perf_counter() - started)
    return out


def bench_validation(runs: int = 20_000) -> float:
    """Microseconds to validate one PaymentIntent create against the pruned spec, in process."""
    sys.path.insert(0, str(ROOT))
    from stripe_emulator.openapi.validate import validate_request

    params = {
        "amount": "2000",
        "currency": "usd",
        "metadata": {"order": "ORD-1"},
        "expand": ["latest_charge"],
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "return_url": "https://shop.example/return",
        "automatic_payment_methods": {"enabled": "true", "allow_redirects": "never"},
    }
    started = time.perf_counter()
    for _ in range(runs):
        validate_request("POST", "/v1/payment_intents", params)
    return (time.perf_counter() - started) / runs * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--payout-size", type=int, default=100_000)
    ap.add_argument("--no-sdk", action="store_true", help="skip the two auto_paging_iter listings")
    args = ap.parse_args()
    validation_us = bench_validation()
    proc, url = start_emulator()
    try:
        api_rate = bench_api(url, args.seconds, args.clients)
        hook_rate, delivered = bench_webhooks(url, args.events)
        payout = bench_payout(url, args.payout_size, sdk=not args.no_sdk)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}")
    print(
        f"API: {api_rate:,.0f} requests/s ({args.clients} keep-alive clients, create+retrieve customers, "
        f"validation on)"
    )
    print(f"validation: {validation_us:.1f} µs per PaymentIntent create checked against the spec")
    print(f"webhooks: {hook_rate:,.0f} signed deliveries/s ({delivered} delivered to a loopback receiver)")
    size, p = args.payout_size, payout
    print(
        f"payout: seeding {size:,} transactions {p['seed_s']:.1f} s; "
        f"one payout over them {p['payout_s']:.2f} s"
    )
    print(
        f"payout listing, emulator alone (expand[]=data.source, http.client + json, no SDK objects): "
        f"{p['raw_per_s']:,.0f} balance transactions/s"
    )
    print(
        f"payout listing through the gateway (raw_request pages, expand[]=data.source, plain dicts): "
        f"{p['gateway_per_s']:,.0f} balance transactions/s"
    )
    for label in ("expanded", "plain") if not args.no_sdk else ():
        how = "expand[]=data.source" if label == "expanded" else "no expand"
        print(
            f"payout listing ({how}): {p[label + '_per_s']:,.0f} balance transactions/s through "
            f"auto_paging_iter; client peak RSS {p[label + '_rss_10k']:.0f} MB after 10,000, "
            f"{p[label + '_rss_end']:.0f} MB after {size + 1:,}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
