"""The account's Stripe API budget: one token bucket shared by every web and worker process,
priorities, and the usage counters behind the metrics.

Stripe limits requests per second per account (https://docs.stripe.com/rate-limits: 25/s in
test mode, 100/s live, search and files 20/s each on top). The gateway stays below those on its
own: every request it sends (`stripe_gateway._call`, one per attempt and per page) first takes a
token from the bucket of its mode (the secret key's) and kind (`default`, `search`, `files`).

- **Where the bucket lives.** `STRIPE_RATE_LIMIT_URL` = a Redis URL: one bucket for all processes,
  refilled and spent by one Lua script (atomic, Redis's own clock). Empty: in this process's
  memory (the embedded default, one process). If Redis does not answer, calls go ahead unthrottled
  (logged): a payment must not fail because the budget's store is down.
- **Size.** `STRIPE_RATE_LIMITS[mode][kind]` tokens a second, holding at most one second's worth,
  below Stripe's limits so clock skew and the SDK's own network retries stay inside them.
- **Priorities.** `customer` (someone is waiting on a page: create, confirm or fetch a
  PaymentIntent or Checkout Session) may take any token. `background` (reconciliation listings,
  the ledger check, re-syncs, recovery, evidence uploads) may take one only while more than
  `STRIPE_RATE_LIMIT_CUSTOMER_RESERVE` of the bucket would remain, and otherwise waits: it never
  causes a 429 and never takes the share kept for customers. The priority is a context variable:
  `with stripe_budget.priority(BACKGROUND): ...` at the call site; without one, Celery tasks run as
  background (set by `task_prerun`, connected in PaymentsConfig.ready) and everything else as
  customer. A wait is capped (`STRIPE_RATE_LIMIT_MAX_WAIT[priority]` seconds): past it the call is
  sent anyway and the gateway's 429 retry applies.
- **Usage.** Calls, waits (count and seconds) and 429s by priority are counted in Redis (or in
  memory without it) for `/metrics`; a 429 reaching a customer call alerts staff (once per
  `STRIPE_RATE_LIMIT_ALERT_SECONDS`, identifiers and counts only).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar, Token
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

from payments.alerts import AlertKind, alert_send

logger = logging.getLogger(__name__)

CUSTOMER = "customer"
BACKGROUND = "background"
PRIORITIES = (CUSTOMER, BACKGROUND)
KINDS = ("default", "search", "files")
COUNTERS = ("calls", "waits", "wait_seconds", "rate_limited")
REDIS_PREFIX = "stripe-budget"
ALERT_CACHE_KEY = "alerts:stripe-rate-limited-customer"

_priority: ContextVar[str | None] = ContextVar("stripe_priority", default=None)


# ---------------------------------------------------------------------------- priorities


@contextlib.contextmanager
def priority(name: str) -> Iterator[None]:
    """Run the enclosed Stripe calls at this priority (`CUSTOMER` or `BACKGROUND`)."""
    if name not in PRIORITIES:
        raise ValueError(f"unknown Stripe call priority: {name}")
    token = _priority.set(name)
    try:
        yield
    finally:
        _priority.reset(token)


@contextlib.contextmanager
def default_priority(name: str) -> Iterator[None]:
    """Like `priority`, unless the caller already chose one (a listing is background, but a caller
    who says otherwise is believed)."""
    if _priority.get() is not None:
        yield
        return
    with priority(name):
        yield


def current_priority() -> str:
    return _priority.get() or CUSTOMER


_task_tokens: dict[str, Token[str | None]] = {}


def task_started(task_id: str | None = None, **kwargs: Any) -> None:
    """Celery `task_prerun`: a task's calls are background unless it says otherwise."""
    _task_tokens[str(task_id)] = _priority.set(BACKGROUND)


def task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(str(task_id), None)
    if token is not None:
        try:
            _priority.reset(token)
        except ValueError:  # finished in another context than it started
            _priority.set(None)


# ---------------------------------------------------------------------------- the bucket

# KEYS[1] the bucket; ARGV rate (tokens/s), capacity, floor (tokens that must remain after
# taking one). Returns "0" when a token was taken, else the seconds to wait before asking again.
TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local floor = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens - 1 >= floor then
  tokens = tokens - 1
else
  wait = (floor + 1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 60)
return tostring(wait)
"""


class MemoryBucket:
    """The same algorithm as TAKE_SCRIPT, for one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: dict[str, tuple[float, float]] = {}
        self.counters: dict[str, float] = {}

    def take(self, key: str, rate: float, capacity: float, floor: float) -> float:
        now = time.monotonic()
        with self.lock:
            tokens, stamp = self.state.get(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - stamp) * rate)
            wait = 0.0
            if tokens - 1 >= floor:
                tokens -= 1
            else:
                wait = (floor + 1 - tokens) / rate
            self.state[key] = (tokens, now)
            return wait

    def count(self, field: str, amount: float) -> None:
        with self.lock:
            self.counters[field] = self.counters.get(field, 0.0) + amount


_memory = MemoryBucket()


@functools.cache
def _redis() -> redis.Redis | None:
    url = settings.STRIPE_RATE_LIMIT_URL
    if not url:
        return None
    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


@functools.cache
def _script() -> Any:
    client = _redis()
    return client.register_script(TAKE_SCRIPT) if client is not None else None


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("STRIPE_RATE_LIMIT"):
        _redis.cache_clear()
        _script.cache_clear()
        reset_memory()


def reset_memory() -> None:
    """Forget the in-memory bucket and counters (tests)."""
    global _memory
    _memory = MemoryBucket()


def mode() -> str:
    return "live" if "_live_" in settings.STRIPE_SECRET_KEY else "test"


def kind_of(operation: str) -> str:
    if operation.startswith("file."):
        return "files"
    if operation.endswith(".search"):
        return "search"
    return "default"


def _take(key: str, rate: float, capacity: float, floor: float) -> float:
    script = _script()
    if script is None:
        return _memory.take(key, rate, capacity, floor)
    try:
        return float(script(keys=[key], args=[rate, capacity, floor]))
    except redis.RedisError as error:
        logger.warning("stripe budget: Redis did not answer (%s), calling unthrottled", type(error).__name__)
        return 0.0


def acquire(operation: str, *, sleep: Any = time.sleep) -> float:
    """Take a token for one request of `operation` at the current priority; returns the seconds
    waited (0 when a token was there)."""
    rate = float(settings.STRIPE_RATE_LIMITS[mode()][kind_of(operation)])
    if rate <= 0:  # 0 turns the budget off for that kind
        return 0.0
    level = current_priority()
    capacity = max(rate, 1.0)
    floor = 0.0 if level == CUSTOMER else capacity * float(settings.STRIPE_RATE_LIMIT_CUSTOMER_RESERVE)
    key = f"{REDIS_PREFIX}:{mode()}:{kind_of(operation)}"
    max_wait = float(settings.STRIPE_RATE_LIMIT_MAX_WAIT[level])
    waited = 0.0
    while True:
        wait = _take(key, rate, capacity, floor)
        if wait <= 0:
            break
        if waited >= max_wait:
            logger.warning(
                "stripe %s budget wait over %.1fs, sending anyway priority=%s",
                operation,
                max_wait,
                level,
                extra={"operation": operation, "priority": level},
            )
            break
        wait = min(wait, max_wait - waited) + 0.001
        sleep(wait)
        waited += wait
    if waited:
        count(level, "waits")
        count(level, "wait_seconds", waited)
    count(level, "calls")
    return waited


# ---------------------------------------------------------------------------- usage


def count(level: str, counter: str, amount: float = 1.0) -> None:
    field = f"{counter}:{level}"
    client = _redis()
    if client is None:
        _memory.count(field, amount)
        return
    try:
        client.hincrbyfloat(f"{REDIS_PREFIX}:usage", field, amount)
    except redis.RedisError:
        logger.warning("stripe budget: usage not counted (Redis did not answer)")


def usage() -> dict[str, dict[str, float]]:
    """{counter: {priority: value}} since the counters began (Redis: shared by every process)."""
    client = _redis()
    raw: dict[str, float]
    if client is None:
        raw = dict(_memory.counters)
    else:
        try:
            stored: dict[bytes, bytes] = client.hgetall(f"{REDIS_PREFIX}:usage")  # type: ignore[assignment]
        except redis.RedisError:
            stored = {}
        raw = {key.decode(): float(value) for key, value in stored.items()}
    return {
        counter: {level: raw.get(f"{counter}:{level}", 0.0) for level in PRIORITIES} for counter in COUNTERS
    }


def rate_limited(operation: str, *, request_id: str | None) -> None:
    """Stripe answered a rate-limit 429: count it, and alert when a customer was waiting on it."""
    level = current_priority()
    count(level, "rate_limited")
    if level != CUSTOMER:
        return
    if not cache.add(ALERT_CACHE_KEY, 1, timeout=settings.STRIPE_RATE_LIMIT_ALERT_SECONDS):
        return
    total = int(usage()["rate_limited"][CUSTOMER])
    alert_send(
        kind=AlertKind.STRIPE_RATE_LIMITED,
        message=(
            f"Stripe rate-limited a customer's {operation} (request {request_id}); "
            f"{total} customer calls rate-limited so far"
        ),
        ids={"operation": operation, "request_id": request_id, "customer_rate_limited": total},
    )
