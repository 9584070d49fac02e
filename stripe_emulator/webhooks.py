"""Webhook delivery: signing, asynchronous delivery with retries and backoff, and webhook faults.

Events are queued here by `resources.events.create_event` (under the state lock) and delivered by
a small pool of worker threads that keep HTTP connections open per endpoint. Each attempt is
signed afresh (`t` is real time, so the receiver's tolerance check sees a fresh timestamp even
when the emulator clock has been advanced). Per-event, per-endpoint outcomes feed
`pending_webhooks` and the events list's `delivery_success` filter.
"""

from __future__ import annotations

import heapq
import hmac
import http.client
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from hashlib import sha256
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .state import render

if TYPE_CHECKING:
    from .state import Emulator

LOG_LIMIT = 20000


def sign(payload: str, secrets: list[str], timestamp: int | None = None) -> str:
    """`t=<ts>,v1=<hmac>[,v1=<hmac>...]`, one v1 per live secret (as during a secret roll)."""
    ts = int(time.time()) if timestamp is None else timestamp
    signed = f"{ts}.{payload}".encode()
    parts = [f"t={ts}"]
    parts += [f"v1={hmac.new(s.encode(), signed, sha256).hexdigest()}" for s in secrets]
    return ",".join(parts)


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    event_id: str = field(compare=False)
    endpoint_id: str = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(compare=False, default=1)
    duplicate: bool = field(compare=False, default=False)


class DeliveryQueues:
    """Pending deliveries, one heap (by due time, then creation) per endpoint.

    With `ordered`, an endpoint has at most one delivery in flight and gets them earliest-first,
    so without faults events arrive in the order they were created (tests stay deterministic);
    the reorder fault is how out-of-order arrival is asked for.
    """

    def __init__(self) -> None:
        self.heaps: dict[str, list[Delivery]] = {}
        self.busy: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(len(h) for h in self.heaps.values())

    def __bool__(self) -> bool:
        return any(self.heaps.values())

    def push(self, d: Delivery) -> None:
        heapq.heappush(self.heaps.setdefault(d.endpoint_id, []), d)

    def _candidates(self, ordered: bool) -> list[list[Delivery]]:
        return [h for ep, h in self.heaps.items() if h and not (ordered and self.busy.get(ep))]

    def pop_ready(self, now: float, ordered: bool) -> Delivery | None:
        heaps = self._candidates(ordered)
        if not heaps:
            return None
        best = min(heaps, key=lambda h: (h[0].due, h[0].seq))
        if best[0].due > now:
            return None
        d = heapq.heappop(best)
        self.busy[d.endpoint_id] = self.busy.get(d.endpoint_id, 0) + 1
        return d

    def done(self, d: Delivery) -> None:
        left = self.busy.get(d.endpoint_id, 1) - 1
        if left:
            self.busy[d.endpoint_id] = left
        else:
            self.busy.pop(d.endpoint_id, None)

    def next_due(self, ordered: bool) -> float | None:
        heaps = self._candidates(ordered)
        return min(h[0].due for h in heaps) if heaps else None

    def clear(self) -> None:
        self.heaps.clear()
        self.busy.clear()


@dataclass
class RetryPolicy:
    first_retry: float = 0.2  # seconds before the 2nd attempt; doubles after each failure
    factor: float = 2.0
    max_attempts: int = 4
    timeout: float = 5.0  # per-attempt HTTP timeout
    ordered: bool = True  # one delivery in flight per endpoint, in creation order
    paused: bool = False  # hold every delivery until unpaused (benchmarks, "webhooks arrive late" tests)

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


class WebhookDispatcher:
    def __init__(self, emu: Emulator, workers: int = 4) -> None:
        self.emu = emu
        self.policy = RetryPolicy()
        self.cond = threading.Condition()
        self.heap = DeliveryQueues()
        self.buffer: list[Delivery] = []  # reorder-window buffer
        self.in_progress = 0
        self.delivering = 0  # deliveries on the wire, of this generation or an earlier one
        self.generation = 0
        self.seq = itertools.count()
        self.log: list[dict[str, Any]] = []
        self.log_lock = threading.Lock()
        self.stopped = False
        self._flush_timer: threading.Timer | None = None
        self.threads = [
            threading.Thread(target=self._worker, daemon=True, name=f"webhook-{i}") for i in range(workers)
        ]
        for t in self.threads:
            t.start()

    # queueing ------------------------------------------------------------------------------

    def enqueue(self, event: dict[str, Any], endpoint_ids: list[str]) -> None:
        faults = self.emu.faults
        wf = faults.webhook
        for we_id in endpoint_ids:
            if faults.chance(wf.drop_rate):
                self._log(event, we_id, 1, None, "dropped by fault", "dropped", False)
                continue
            delay = wf.delay
            if wf.delay_range:
                delay += faults.uniform(*wf.delay_range)
            d = Delivery(time.time() + delay, next(self.seq), event["id"], we_id, self.generation)
            with self.cond:
                if wf.reorder_window > 1:
                    self.buffer.append(d)
                    if len(self.buffer) >= wf.reorder_window:
                        self._flush_locked()
                    elif self._flush_timer is None:
                        # Flush a partly filled window soon, so a lone event is not held forever.
                        self._flush_timer = threading.Timer(0.3, self._flush)
                        self._flush_timer.daemon = True
                        self._flush_timer.start()
                else:
                    self.heap.push(d)
                self.cond.notify_all()

    def _flush(self) -> None:
        with self.cond:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        batch, self.buffer = self.buffer, []
        self.emu.faults.shuffle(batch)
        now = time.time()
        for d in batch:
            # Re-stamp in shuffled order: due times and sequence numbers follow the shuffle.
            d.due = max(d.due, now)
            d.seq = next(self.seq)
            self.heap.push(d)
            now += 0.002
        self.cond.notify_all()

    def pending(self) -> int:
        with self.cond:
            return len(self.heap) + len(self.buffer) + self.in_progress

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued, in retry or in flight. False on timeout."""
        deadline = time.time() + timeout
        with self.cond:
            while self.heap or self.buffer or self.in_progress:
                remaining = deadline - time.time()
                if remaining <= 0:
                    return False
                self.cond.wait(min(remaining, 0.05))
        return True

    def reset(self) -> None:
        with self.cond:
            self.generation += 1
            self.heap.clear()
            self.in_progress = 0
            self.buffer.clear()
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            self.policy = RetryPolicy()
            self.cond.notify_all()
        with self.log_lock:
            self.log.clear()

    def settle(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is on the wire, even one a reset has orphaned (its receiver may
        still be writing what it received). False on timeout."""
        deadline = time.time() + timeout
        with self.cond:
            while self.delivering:
                remaining = deadline - time.time()
                if remaining <= 0:
                    return False
                self.cond.wait(min(remaining, 0.05))
        return True

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def configure(self, **kw: Any) -> None:
        with self.cond:
            for key, value in kw.items():
                if not hasattr(self.policy, key):
                    raise ValueError(f"unknown webhook setting: {key}")
                current = getattr(self.policy, key)
                if isinstance(current, bool):
                    value = value in (True, "true", "1", 1)
                setattr(self.policy, key, type(current)(value))
            self.cond.notify_all()

    # delivery ------------------------------------------------------------------------------

    def _worker(self) -> None:
        conns: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        while True:
            with self.cond:
                while True:
                    if self.stopped:
                        return
                    now = time.time()
                    ready = None if self.policy.paused else self.heap.pop_ready(now, self.policy.ordered)
                    if ready is not None:
                        d = ready
                        self.in_progress += 1
                        self.delivering += 1
                        break
                    due = None if self.policy.paused else self.heap.next_due(self.policy.ordered)
                    self.cond.wait(None if due is None else max(0.0, due - now))
            try:
                if d.generation == self.generation:
                    self._deliver(d, conns)
            except Exception as exc:  # a bug here must not kill the worker
                self._log_raw(d, None, f"internal error: {exc!r}", "failed")
            finally:
                with self.cond:
                    self.delivering -= 1
                    if d.generation == self.generation:
                        self.in_progress -= 1
                        self.heap.done(d)
                    self.cond.notify_all()

    def _deliver(self, d: Delivery, conns: dict[tuple[str, str, int], http.client.HTTPConnection]) -> None:
        emu = self.emu
        with emu.lock:
            event = emu.store.get(d.event_id, "event")
            endpoint = emu.store.get(d.endpoint_id, "webhook_endpoint")
            if event is None:
                return
            if endpoint is None or endpoint.get("status") != "enabled":
                # Stripe stops retrying when the endpoint is disabled or deleted.
                self._record(d, event, None, "endpoint disabled or deleted", "failed")
                return
            now = emu.clock.time()
            secrets = [
                s["secret"] for s in endpoint["_secrets"] if s.get("expires") is None or s["expires"] > now
            ]
            payload = json.dumps(render(event), indent=2)
            url = endpoint["url"]
        status: int | None = None
        error: str | None = None
        if time.time() < emu.faults.webhook.down_until:
            error = "endpoint down (fault)"
        else:
            status, error = self._post(url, payload, sign(payload, secrets), conns)
        ok = status is not None and 200 <= status < 300
        if d.duplicate:
            self._log_raw(d, status, error, "succeeded" if ok else "failed")
            return
        if ok:
            self._record(d, event, status, None, "succeeded")
            if emu.faults.chance(emu.faults.webhook.duplicate_rate):
                self._push(
                    Delivery(time.time(), next(self.seq), d.event_id, d.endpoint_id, d.generation, 1, True)
                )
        elif d.attempt < self.policy.max_attempts:
            self._log_raw(d, status, error, "retrying")
            backoff = self.policy.first_retry * self.policy.factor ** (d.attempt - 1)
            self._push(
                Delivery(
                    time.time() + backoff,
                    next(self.seq),
                    d.event_id,
                    d.endpoint_id,
                    d.generation,
                    d.attempt + 1,
                )
            )
        else:
            self._record(d, event, status, error, "failed")

    def _push(self, d: Delivery) -> None:
        with self.cond:
            if d.generation == self.generation:
                self.heap.push(d)
                self.cond.notify_all()

    def _post(
        self,
        url: str,
        payload: str,
        signature: str,
        conns: dict[tuple[str, str, int], http.client.HTTPConnection],
    ) -> tuple[int | None, str | None]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        body = payload.encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Content-Length": str(len(body)),
        }
        for reuse in (True, False):
            conn = conns.get(key) if reuse else None
            reused = conn is not None
            if conn is None:
                cls = http.client.HTTPSConnection if key[0] == "https" else http.client.HTTPConnection
                conn = cls(key[1], key[2], timeout=self.policy.timeout)
                conns[key] = conn
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.will_close:
                    conn.close()
                    conns.pop(key, None)
                return resp.status, None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conns.pop(key, None)
                # A kept-alive connection the receiver closed while idle: retry once on a fresh one
                # rather than count a failed attempt. Timeouts are real failures.
                if reused and not isinstance(exc, TimeoutError):
                    continue
                return None, f"{type(exc).__name__}: {exc}"
        return None, "unreachable"

    # outcome bookkeeping ---------------------------------------------------------------------

    def _record(
        self, d: Delivery, event: dict[str, Any], status: int | None, error: str | None, outcome: str
    ) -> None:
        self._log_raw(d, status, error, outcome)
        emu = self.emu
        with emu.lock:
            current = emu.store.get(d.event_id, "event")
            if current is None or d.generation != self.generation:
                return
            current["_deliveries"][d.endpoint_id] = outcome
            current["pending_webhooks"] = sum(1 for v in current["_deliveries"].values() if v != "succeeded")
            emu.store.put(current)

    def _log_raw(self, d: Delivery, status: int | None, error: str | None, outcome: str) -> None:
        event = self.emu.store.get(d.event_id, "event")
        self._append(
            {
                "event": d.event_id,
                "type": event["type"] if event else None,
                "endpoint": d.endpoint_id,
                "attempt": d.attempt,
                "status": status,
                "error": error,
                "outcome": outcome,
                "duplicate": d.duplicate,
                "time": time.time(),
            }
        )

    def _log(
        self,
        event: dict[str, Any],
        we_id: str,
        attempt: int,
        status: int | None,
        error: str | None,
        outcome: str,
        duplicate: bool,
    ) -> None:
        self._append(
            {
                "event": event["id"],
                "type": event["type"],
                "endpoint": we_id,
                "attempt": attempt,
                "status": status,
                "error": error,
                "outcome": outcome,
                "duplicate": duplicate,
                "time": time.time(),
            }
        )

    def _append(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self.log.append(entry)
            if len(self.log) > LOG_LIMIT:
                del self.log[: len(self.log) - LOG_LIMIT]

    def deliveries(self) -> list[dict[str, Any]]:
        with self.log_lock:
            return list(self.log)
