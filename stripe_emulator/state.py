"""State: the object store (memory, optionally written through to SQLite), the clock, idempotency
records, and the `Emulator` that ties them together with events and webhook delivery.

Objects are plain dicts shaped like Stripe's. Keys starting with `_` are private to the emulator
(card behaviour, secrets, delivery state) and are stripped when an object is rendered. Every
object kind lives in one table keyed by id, so later kinds (payouts, disputes) need no schema work.
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .faults import Faults
    from .webhooks import WebhookDispatcher

DEFAULT_API_VERSION = "2026-08-26.dahlia"
EVENT_RETENTION_SECONDS = 30 * 24 * 3600
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_ALPHABET = string.ascii_letters + string.digits


class Clock:
    """Emulator time = real time + an offset that tests move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> int:
        return int(self.time())

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0


class Store:
    """Objects by id plus per-kind creation order (for newest-first lists).

    With a path, every put/delete is written through to SQLite at once, so a restart (or a crash)
    keeps everything that was answered.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.objects: dict[str, dict[str, Any]] = {}
        self.seq: dict[str, int] = {}
        self.by_kind: dict[str, dict[str, None]] = {}  # insertion-ordered "set" per kind
        self.meta: dict[str, Any] = {}
        # Objects built on demand rather than stored (the bulk-seeded charges of a 100,000-transaction
        # payout): id → arguments for `synthesize`. `get` finds them; kind lists do not.
        self.synthetic: dict[str, tuple[Any, ...]] = {}
        self.synthesize: Callable[[str, tuple[Any, ...]], dict[str, Any]] | None = None
        self._next = 0
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()
        if path:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS objects (id TEXT PRIMARY KEY, kind TEXT, seq INTEGER, body TEXT)"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, body TEXT)")
            self._db.execute("CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, body TEXT)")
            self._load()

    def _load(self) -> None:
        assert self._db is not None
        for obj_id, _kind, seq, body in self._db.execute(
            "SELECT id, kind, seq, body FROM objects ORDER BY seq"
        ):
            obj = json.loads(body)
            self._index(obj_id, obj, seq)
            self._next = max(self._next, seq + 1)
        for key, body in self._db.execute("SELECT key, body FROM meta"):
            self.meta[key] = json.loads(body)

    def _index(self, obj_id: str, obj: dict[str, Any], seq: int) -> None:
        self.objects[obj_id] = obj
        self.seq[obj_id] = seq
        self.by_kind.setdefault(obj["object"], {})[obj_id] = None

    def get(self, obj_id: str, kind: str | None = None) -> dict[str, Any] | None:
        obj = self.objects.get(obj_id)
        if obj is None and obj_id in self.synthetic and self.synthesize is not None:
            obj = self.synthesize(obj_id, self.synthetic[obj_id])
        if obj is not None and kind is not None and obj["object"] != kind:
            return None
        return obj

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj_id = obj["id"]
        if obj_id not in self.objects:
            self._index(obj_id, obj, self._next)
            self._next += 1
        else:
            self.objects[obj_id] = obj
        if self._db is not None:
            with self._db_lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects (id, kind, seq, body) VALUES (?, ?, ?, ?)",
                    (obj_id, obj["object"], self.seq[obj_id], json.dumps(obj)),
                )
        return obj

    def delete(self, obj_id: str) -> None:
        obj = self.objects.pop(obj_id, None)
        if obj is None:
            return
        self.seq.pop(obj_id, None)
        self.by_kind.get(obj["object"], {}).pop(obj_id, None)
        if self._db is not None:
            with self._db_lock:
                self._db.execute("DELETE FROM objects WHERE id = ?", (obj_id,))

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Objects of a kind, newest first."""
        ids = list(self.by_kind.get(kind, {}))
        ids.reverse()
        return [self.objects[i] for i in ids]

    def set_meta(self, key: str, value: Any) -> None:
        self.meta[key] = value
        if self._db is not None:
            with self._db_lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, body) VALUES (?, ?)", (key, json.dumps(value))
                )

    def load_rows(self, table: str) -> list[tuple[str, Any]]:
        if self._db is None:
            return []
        with self._db_lock:
            rows = self._db.execute(f"SELECT key, body FROM {table}").fetchall()  # noqa: S608 (fixed names)
        return [(k, json.loads(b)) for k, b in rows]

    def put_row(self, table: str, key: str, value: Any) -> None:
        if self._db is not None:
            with self._db_lock:
                self._db.execute(
                    f"INSERT OR REPLACE INTO {table} (key, body) VALUES (?, ?)",  # noqa: S608 (fixed names)
                    (key, json.dumps(value)),
                )

    def delete_rows(self, table: str, keys: list[str]) -> None:
        if self._db is not None and keys:
            with self._db_lock:
                self._db.executemany(f"DELETE FROM {table} WHERE key = ?", [(k,) for k in keys])  # noqa: S608

    def wipe(self) -> None:
        self.objects.clear()
        self.seq.clear()
        self.by_kind.clear()
        self.meta.clear()
        self.synthetic.clear()
        self._next = 0
        if self._db is not None:
            with self._db_lock:
                self._db.execute("DELETE FROM objects")
                self._db.execute("DELETE FROM meta")
                self._db.execute("DELETE FROM idempotency")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class IdempotencyRecord:
    method: str
    path: str
    params_fingerprint: str
    created: float  # emulator time
    status: int | None = None  # None while the first request is still in flight
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Idempotency:
    """Stripe's idempotency layer: per (API key, Idempotency-Key) records, forgotten after 24h.

    With a data file each finished record is one row, so a restarted emulator still replays a
    request that was answered before the crash (the case idempotency keys exist for).
    """

    TABLE = "idempotency"

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.lock = threading.Lock()
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self._since_prune = 0
        for key, rec in store.load_rows(self.TABLE):
            account, _, idem = key.partition("\x00")
            self.records[(account, idem)] = IdempotencyRecord(
                rec["method"],
                rec["path"],
                rec["fp"],
                rec["created"],
                rec["status"],
                rec["body"].encode(),
                rec["headers"],
            )

    def begin(
        self, account: str, key: str, method: str, path: str, fingerprint: str
    ) -> IdempotencyRecord | str:
        """Reserve the key. Returns the stored record to replay, or "new", "in_flight", "mismatch"."""
        with self.lock:
            self._maybe_prune()
            rec = self.records.get((account, key))
            if rec is not None and self.clock.time() - rec.created >= IDEMPOTENCY_TTL_SECONDS:
                rec = None
            if rec is None:
                self.records[(account, key)] = IdempotencyRecord(method, path, fingerprint, self.clock.time())
                return "new"
            if rec.status is None:
                return "in_flight"
            if rec.method != method or rec.path != path or rec.params_fingerprint != fingerprint:
                return "mismatch"
            return rec

    def finish(self, account: str, key: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            rec = self.records.get((account, key))
            if rec is None:
                return
            rec.status, rec.body, rec.headers = status, body, headers
            row = {
                "method": rec.method,
                "path": rec.path,
                "fp": rec.params_fingerprint,
                "created": rec.created,
                "status": status,
                "body": body.decode(),
                "headers": headers,
            }
        self.store.put_row(self.TABLE, f"{account}\x00{key}", row)

    def forget(self, account: str, key: str) -> None:
        with self.lock:
            self.records.pop((account, key), None)

    def _maybe_prune(self) -> None:
        """Drop expired records now and then, so a long-running emulator does not grow forever."""
        self._since_prune += 1
        if self._since_prune < 1000:
            return
        self._since_prune = 0
        cutoff = self.clock.time() - IDEMPOTENCY_TTL_SECONDS
        old = [k for k, r in self.records.items() if r.created < cutoff and r.status is not None]
        for k in old:
            del self.records[k]
        self.store.delete_rows(self.TABLE, [f"{a}\x00{k}" for a, k in old])

    def clear(self) -> None:
        with self.lock:
            self.records.clear()


@dataclass
class MoneySettings:
    """The account's balance, payout and dispute timings (`POST /_emulator/account`)."""

    available_days: int = 2  # a charge's funds become available N days later, at 00:00 UTC
    payout_schedule: str = "daily"  # "daily": automatic payouts at 00:00 UTC; "manual": none
    payout_arrival_days: int = 1  # arrival_date = payout time + N days (then `paid`)
    payout_in_transit_seconds: int = 3600  # pending → in_transit this long after the payout
    dispute_due_days: int = 7  # evidence_details.due_by = dispute created + N days
    dispute_decision_seconds: int = 60  # submitted evidence is decided this long after submission
    # Billing: hours after a renewal's first failure at which each retry runs (like Smart Retries'
    # "N tries within a time frame"), what happens after the last one, and when invoice.upcoming goes.
    invoice_retry_hours: list[float] = field(default_factory=lambda: [72.0, 120.0, 168.0])
    subscription_after_retries: str = "cancel"  # "cancel" | "unpaid" | "past_due"
    invoice_upcoming_days: int = 3

    def update(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown account setting: {name}")
            if name == "invoice_retry_hours":
                hours = [float(h) for h in (value.split(",") if isinstance(value, str) else value)]
                if any(h <= 0 for h in hours) or hours != sorted(hours) or len(hours) > 8:
                    raise ValueError("invoice_retry_hours must be up to 8 increasing positive numbers")
                self.invoice_retry_hours = hours
                continue
            if name == "subscription_after_retries":
                if value not in ("cancel", "unpaid", "past_due"):
                    raise ValueError("subscription_after_retries must be cancel, unpaid or past_due")
                self.subscription_after_retries = value
                continue
            if name == "payout_schedule":
                if value not in ("daily", "manual"):
                    raise ValueError("payout_schedule must be daily or manual")
                self.payout_schedule = value
                continue
            number = int(value)
            if number < 0:
                raise ValueError(f"{name} must not be negative")
            setattr(self, name, number)

    def describe(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class RequestContext:
    """What events record about the API request that caused them."""

    request_id: str | None = None
    idempotency_key: str | None = None
    livemode: bool = False
    api_version: str | None = None


class Emulator:
    """The whole emulated account: store, clock, idempotency, events and webhooks, faults."""

    def __init__(
        self,
        *,
        data_path: str | None = None,
        seed: int | None = None,
        base_url: str = "",
        api_keys: set[str] | None = None,
    ) -> None:
        from .faults import Faults
        from .ratelimit import RateLimiter
        from .webhooks import WebhookDispatcher

        self.seed = seed
        self.rng = random.Random(seed)
        self.base_url = base_url
        # None: any well-formed sk_/rk_/pk_ key is accepted (the dev server). A set: only those keys,
        # so a wrong key gets Stripe's 401 (the test fixture).
        self.api_keys = api_keys
        self.clock = Clock()
        self.store = Store(data_path)
        self.clock.offset = float(self.store.meta.get("clock_offset", 0.0))
        self.idempotency = Idempotency(self.store, self.clock)
        # One lock for all object state: handlers are short, and it makes every state machine
        # transition atomic without per-object locking.
        self.lock = threading.RLock()
        self._local = threading.local()
        self.faults: Faults = Faults(seed)
        self.rate_limits: RateLimiter = RateLimiter()
        self.webhooks: WebhookDispatcher = WebhookDispatcher(self)
        self.timers: list[threading.Timer] = []
        self.money = MoneySettings()
        self.money.update(self.store.meta.get("money_settings") or {})
        # Caches rebuilt from the store when missing: pending balance transaction ids, and per payout
        # the position of each of its balance transactions (so paging 100,000 of them is O(page)).
        self.pending_txns: dict[str, None] | None = None
        self.unpaid_txns: dict[str, None] | None = None  # available, not yet in an automatic payout
        self.payout_positions: dict[str, dict[str, int]] = {}
        self.seed_templates: dict[str, dict[str, Any]] = {}  # currency → charge, for seeded payouts

    # ids and clock -------------------------------------------------------------------------

    def new_id(self, prefix: str, length: int = 24) -> str:
        return f"{prefix}_" + "".join(self.rng.choices(_ALPHABET, k=length))

    def now(self) -> int:
        return self.clock.now()

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(seconds)
            self.store.set_meta("clock_offset", self.clock.offset)
            self.sweep()

    def sweep(self) -> None:
        """Time-driven transitions: expire checkout sessions past `expires_at`; funds becoming
        available, automatic payouts and their progress, dispute deadlines and decisions."""
        from .resources import billing, checkout, disputes, payouts

        with self.lock:
            checkout.expire_due_sessions(self)
            billing.sweep(self)
            payouts.sweep(self)
            disputes.sweep(self)

    @property
    def api_version(self) -> str:
        """The version events are rendered with: the one the account's requests send.

        Stripe renders an event with the account's API version. The emulator has no account
        settings page, so the account's version is the `Stripe-Version` its requests last sent
        (the SDK always sends the one it pins); before any request, Stripe's spec version.
        """
        ctx_version = self.ctx.api_version
        if ctx_version:
            return ctx_version
        return str(self.store.meta.get("api_version") or DEFAULT_API_VERSION)

    def note_api_version(self, version: str | None) -> None:
        if version and self.store.meta.get("api_version") != version:
            self.store.set_meta("api_version", version)

    # request context -----------------------------------------------------------------------

    @property
    def ctx(self) -> RequestContext:
        ctx = getattr(self._local, "ctx", None)
        if ctx is None:
            ctx = RequestContext()
            self._local.ctx = ctx
        return ctx

    @contextmanager
    def request_context(self, ctx: RequestContext) -> Iterator[None]:
        previous = getattr(self._local, "ctx", None)
        self._local.ctx = ctx
        try:
            yield
        finally:
            self._local.ctx = previous

    # objects ---------------------------------------------------------------------------------

    def base_object(self, prefix: str, kind: str, **fields: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self.new_id(prefix), "object": kind}
        obj.update(fields)
        obj.setdefault("created", self.now())
        obj.setdefault("livemode", self.ctx.livemode)
        return obj

    def emit(
        self, event_type: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> None:
        from .resources.events import create_event

        create_event(self, event_type, obj, previous_attributes)

    def later(self, seconds: float, fn: Callable[[], None]) -> None:
        """Run `fn` under the state lock after a real-time delay (async refunds and the like)."""

        def run() -> None:
            with self.lock:
                fn()

        timer = threading.Timer(seconds, run)
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def reset(self) -> None:
        with self.lock:
            for timer in self.timers:
                timer.cancel()
            self.timers.clear()
            self.webhooks.reset()
            self.store.wipe()
            self.idempotency.clear()
            self.clock.reset()
            self.faults.clear()
            self.rate_limits.reset()
            self.money = MoneySettings()
            self.pending_txns = None
            self.unpaid_txns = None
            self.payout_positions.clear()
            self.seed_templates.clear()
            self.rng = random.Random(self.seed)

    def close(self) -> None:
        self.webhooks.stop()
        for timer in self.timers:
            timer.cancel()
        self.store.close()


def render(obj: dict[str, Any]) -> dict[str, Any]:
    """The public view of an object: private `_` keys removed (top level only)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def checkout_session_pay(emu: Emulator, session_id: str, card_number_or_pm: str) -> dict[str, Any]:
    """Pay an open Checkout Session the way the hosted page does (see resources.checkout.pay)."""
    from .resources import checkout

    return checkout.pay(emu, session_id, card_number_or_pm)
