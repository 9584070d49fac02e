"""The account's Stripe API budget: one token bucket shared by every process, customers first,
background calls waiting instead of causing 429s, usage counted and exported, customers' 429s
alerted; and the raw listing keeps its errors, retries and pagination."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache

from config.metrics import metrics_text
from payments import stripe_budget, stripe_gateway
from payments.alerts import AlertKind
from reconciliation import tasks
from reconciliation.models import Payout
from reconciliation.services.payouts import payout_sync
from tests.fault_server import RATE_LIMITED, FaultServer, Reply

REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def budget(settings: Any) -> Any:
    """The default figures (20/s in test mode, a quarter kept for customers) in process memory."""
    settings.STRIPE_RATE_LIMIT_URL = ""
    settings.STRIPE_RATE_LIMITS = {
        mode: {"default": 20.0, "search": 16.0, "files": 16.0} for mode in ("test", "live")
    }
    stripe_budget.reset_memory()
    cache.delete(stripe_budget.ALERT_CACHE_KEY)
    return settings


@pytest.fixture
def shared_budget(budget: Any) -> Any:
    """The same, in Redis (a database of its own for these tests), emptied first."""
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{stripe_budget.REDIS_PREFIX}:*"):
        client.delete(key)
    budget.STRIPE_RATE_LIMIT_URL = REDIS_URL
    return client


def test_background_never_takes_the_share_kept_for_customers(budget: Any) -> None:
    slept: list[float] = []
    budget.STRIPE_RATE_LIMIT_MAX_WAIT = {"customer": 3.0, "background": 0.05}
    with stripe_budget.priority(stripe_budget.BACKGROUND):
        for _ in range(15):  # 20 tokens, 5 kept: 15 go at once
            assert stripe_budget.acquire("balance_transaction.list", sleep=slept.append) == 0
        assert stripe_budget.acquire("balance_transaction.list", sleep=slept.append) > 0
    assert slept  # the 16th background call waited
    slept.clear()
    for _ in range(5):  # a customer takes the reserve at once
        assert stripe_budget.acquire("payment_intent.create", sleep=slept.append) == 0
    assert slept == []
    usage = stripe_budget.usage()
    assert usage["calls"] == {"customer": 5.0, "background": 16.0}
    assert usage["waits"]["background"] == 1 and usage["waits"]["customer"] == 0


def test_files_and_live_mode_have_their_own_buckets(budget: Any) -> None:
    slept: list[float] = []
    for _ in range(20):
        stripe_budget.acquire("payment_intent.create", sleep=slept.append)
    assert stripe_budget.acquire("file.create", sleep=slept.append) == 0
    budget.STRIPE_SECRET_KEY = "sk_live_budget"
    assert stripe_budget.mode() == "live"
    assert stripe_budget.acquire("payment_intent.create", sleep=slept.append) == 0
    assert slept == []


def test_the_priority_is_chosen_at_the_call_site_and_celery_tasks_default_to_background() -> None:
    assert stripe_budget.current_priority() == stripe_budget.CUSTOMER
    with stripe_budget.priority(stripe_budget.BACKGROUND):
        assert stripe_budget.current_priority() == stripe_budget.BACKGROUND
        with stripe_budget.default_priority(stripe_budget.CUSTOMER):  # the caller's choice stands
            assert stripe_budget.current_priority() == stripe_budget.BACKGROUND
    stripe_budget.task_started(task_id="t1")
    assert stripe_budget.current_priority() == stripe_budget.BACKGROUND
    stripe_budget.task_finished(task_id="t1")
    assert stripe_budget.current_priority() == stripe_budget.CUSTOMER
    with pytest.raises(ValueError):
        stripe_budget.priority("urgent").__enter__()


def test_the_bucket_in_redis_is_shared(shared_budget: redis.Redis) -> None:
    slept: list[float] = []
    for _ in range(20):
        stripe_budget.acquire("payment_intent.create", sleep=slept.append)
    tokens = float(shared_budget.hget(f"{stripe_budget.REDIS_PREFIX}:test:default", "tokens") or 99)
    assert tokens < 1  # spent, as every other process sees it
    assert stripe_budget.usage()["calls"]["customer"] == 20
    assert b"calls:customer" in shared_budget.hgetall(f"{stripe_budget.REDIS_PREFIX}:usage")


def test_redis_down_lets_calls_through(budget: Any) -> None:
    budget.STRIPE_RATE_LIMIT_URL = "redis://127.0.0.1:9/0"
    assert stripe_budget.acquire("payment_intent.create") == 0


@pytest.mark.django_db
def test_a_429_reaching_a_customer_is_counted_exported_and_alerted_once(
    budget: Any, fault_server: FaultServer, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(stripe_budget, "alert_send", lambda **kwargs: sent.append(kwargs))
    pi = {"id": "pi_1", "object": "payment_intent", "status": "requires_payment_method"}
    fault_server.replies = [RATE_LIMITED, RATE_LIMITED, Reply(200, pi), RATE_LIMITED, Reply(200, pi)]
    stripe_gateway.payment_intent_retrieve(payment_intent_id="pi_1")
    with stripe_budget.priority(stripe_budget.BACKGROUND):
        stripe_gateway.payment_intent_retrieve(payment_intent_id="pi_1")

    assert len(sent) == 1  # one alert per period, however many 429s
    alert = sent[0]
    assert alert["kind"] == AlertKind.STRIPE_RATE_LIMITED
    assert alert["ids"]["operation"] == "payment_intent.retrieve" and alert["ids"]["request_id"]
    assert set(alert["ids"]) == {"operation", "request_id", "customer_rate_limited"}
    text = metrics_text().decode()
    assert 'stripe_api_rate_limited_total{priority="customer"} 2.0' in text
    assert 'stripe_api_rate_limited_total{priority="background"} 1.0' in text
    assert 'stripe_api_calls_total{priority="customer"} 3.0' in text


def test_a_listing_keeps_stripes_errors_and_pages(
    budget: Any, fault_server: FaultServer, sleeps: list[float]
) -> None:
    refused = {"error": {"type": "invalid_request_error", "code": "parameter_unknown", "param": "x"}}
    failed = Reply(500, {"error": {"type": "api_error", "message": "boom"}})
    fault_server.replies = [Reply(400, refused), failed, failed, failed, *[RATE_LIMITED] * 4]
    with pytest.raises(stripe_gateway.InvalidRequest) as caught:
        list(stripe_gateway.charge_list(since=0))
    assert caught.value.code == "parameter_unknown" and caught.value.param == "x"
    with pytest.raises(stripe_gateway.StripeUnavailable):
        list(stripe_gateway.refund_list(since=0))
    assert len(fault_server.seen) == 4  # the SDK retried the 500 twice, as for any call
    with pytest.raises(stripe_gateway.RateLimited):
        list(stripe_gateway.dispute_list(since=0))
    assert stripe_budget.usage()["rate_limited"]["background"] >= 4  # a listing is background


# 100,000 (the figure) takes ~65 s at the budget's pace on this machine: set
# BUDGET_TEST_TRANSACTIONS=100000 to run it; the suite uses 20,000 (~13 s).
SEEDED = int(os.environ.get("BUDGET_TEST_TRANSACTIONS", "20000"))


@pytest.mark.django_db
@pytest.mark.slow  # 15 s with its own processes; and out of the mutation run, which it held up
def test_checkout_gets_no_429_while_a_big_reconciliation_runs_in_another_process(
    emulator: Any, shared_budget: redis.Redis, tmp_path: Path
) -> None:
    # given: Stripe's test-mode limit, and a paid payout of 20,000 balance transactions
    emulator.set_rate_limits(test={"default": 25})
    seeded = emulator.seed_payout(SEEDED)
    emulator.advance_clock(3 * 86400)
    payout_sync(obj=stripe_gateway.payout_retrieve(payout_id=seeded["payout"]), source="test")
    assert Payout.objects.get(stripe_id=seeded["payout"]).status == Payout.Status.PAID

    # and: checkout, in its own process, creating a PaymentIntent every 0.2 s
    stop = tmp_path / "stop"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "STRIPE_API_BASE": emulator.url,
        "STRIPE_SECRET_KEY": emulator.secret_key,
        "STRIPE_RATE_LIMIT_URL": REDIS_URL,
        "STRIPE_RATE_LIMIT_TEST": "20",
    }
    customer = subprocess.Popen(
        [sys.executable, "-m", "tests.payments.budget_customer", str(stop), str(time.time_ns()), "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert customer.stdout is not None and json.loads(customer.stdout.readline()) == {"started": True}
        # when: the reconciliation task runs here (a Celery task: background by default)
        started = time.monotonic()
        reconciled = tasks.reconcile_payout.apply(args=[seeded["payout"]]).get()
        took = time.monotonic() - started
    finally:
        stop.touch()
        out, _ = customer.communicate(timeout=60)
    checkout = json.loads(out.strip().splitlines()[-1])

    # then: the reconciliation finished, every line linked, and checkout never saw a 429
    assert reconciled is True
    payout = Payout.objects.get(stripe_id=seeded["payout"])
    assert payout.reconciled and payout.lines_count == SEEDED + 1
    assert checkout["errors"] == [] and checkout["created"] >= 5
    limiter = emulator.rate_limits()["counts"]["test.default"]
    assert limiter["limited"] == 0  # Stripe answered no 429 to anyone
    usage = stripe_budget.usage()
    assert usage["rate_limited"] == {"customer": 0.0, "background": 0.0}
    assert usage["calls"]["customer"] >= checkout["created"]
    assert usage["calls"]["background"] >= SEEDED // 100
    print(f"reconciled {SEEDED + 1} lines in {took:.1f}s beside {checkout['created']} PaymentIntents")
