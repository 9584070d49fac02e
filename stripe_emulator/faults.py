"""Faults on demand: webhook misbehaviour and API failures, reproducible with a seed.

Set from the CLI (`--fault webhook:drop_rate=0.2`, `--fault api:kind=500,path=^/v1/refunds,count=2`)
or as JSON on `POST /_emulator/faults`:

    {"webhook": {"drop_rate": 0.1, "duplicate_rate": 0.1, "delay": 0.5, "delay_range": [0, 2],
                 "reorder_window": 5, "double_event_rate": 0.1, "endpoint_down_seconds": 3},
     "api": [{"kind": "rate_limit", "path": "^/v1/payment_intents", "method": "POST",
              "rate": 1.0, "count": 2, "seconds": 1.0}]}

Webhook keys may also be given at the top level. API `kind`s: rate_limit, lock_timeout, error
(500), slow (sleep `seconds`, then answer normally), drop (close the socket without answering),
drop_after (run the request, then close the socket without answering: the lost-response case).
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

API_KINDS = {"rate_limit", "lock_timeout", "error", "slow", "drop", "drop_after"}
WEBHOOK_KEYS = {
    "drop_rate",
    "duplicate_rate",
    "delay",
    "delay_range",
    "reorder_window",
    "double_event_rate",
    "endpoint_down_seconds",
}


@dataclass
class ApiFault:
    kind: str
    path: re.Pattern[str]
    method: str | None = None
    rate: float = 1.0
    count: int | None = None  # only the first N matching requests
    seconds: float = 1.0
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path.pattern,
            "method": self.method,
            "rate": self.rate,
            "count": self.count,
            "seconds": self.seconds,
            "hits": self.hits,
        }


@dataclass
class WebhookFaults:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay: float = 0.0
    delay_range: tuple[float, float] | None = None
    reorder_window: int = 0
    double_event_rate: float = 0.0
    down_until: float = 0.0  # real time until which every endpoint refuses deliveries

    def describe(self) -> dict[str, Any]:
        return {
            "drop_rate": self.drop_rate,
            "duplicate_rate": self.duplicate_rate,
            "delay": self.delay,
            "delay_range": list(self.delay_range) if self.delay_range else None,
            "reorder_window": self.reorder_window,
            "double_event_rate": self.double_event_rate,
            "endpoint_down_remaining": max(0.0, self.down_until - time.time()),
        }


@dataclass
class Faults:
    seed: int | None = None
    webhook: WebhookFaults = field(default_factory=WebhookFaults)
    api: list[ApiFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.webhook = WebhookFaults()
            self.api = []
            self.rng = random.Random(self.seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self.lock:
            return self.rng.random() < rate

    def uniform(self, low: float, high: float) -> float:
        with self.lock:
            return self.rng.uniform(low, high)

    def shuffle(self, items: list[Any]) -> None:
        with self.lock:
            self.rng.shuffle(items)

    def configure(self, spec: dict[str, Any]) -> None:
        """Apply a JSON fault spec; webhook settings given are replaced, API rules are appended."""
        hook = dict(spec.get("webhook") or {})
        hook.update({k: v for k, v in spec.items() if k in WEBHOOK_KEYS})
        unknown = set(spec) - WEBHOOK_KEYS - {"webhook", "api"}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        with self.lock:
            for key, value in hook.items():
                if key not in WEBHOOK_KEYS:
                    raise ValueError(f"unknown webhook fault: {key}")
                if key == "endpoint_down_seconds":
                    self.webhook.down_until = time.time() + float(value)
                elif key == "delay_range":
                    self.webhook.delay_range = (float(value[0]), float(value[1])) if value else None
                elif key == "reorder_window":
                    self.webhook.reorder_window = int(value)
                else:
                    setattr(self.webhook, key, float(value))
            for rule in spec.get("api") or []:
                kind = rule.get("kind", "error")
                if kind not in API_KINDS:
                    raise ValueError(f"unknown api fault kind: {kind} (one of {sorted(API_KINDS)})")
                count = rule.get("count")
                self.api.append(
                    ApiFault(
                        kind=kind,
                        path=re.compile(rule.get("path", ".*")),
                        method=(rule.get("method") or None) and str(rule["method"]).upper(),
                        rate=float(rule.get("rate", 1.0)),
                        count=int(count) if count is not None else None,
                        seconds=float(rule.get("seconds", 1.0)),
                    )
                )

    def match_api(self, method: str, path: str) -> ApiFault | None:
        """The first API rule that fires for this request (counting it), or None."""
        with self.lock:
            for rule in self.api:
                if rule.method and rule.method != method:
                    continue
                if not rule.path.search(path):
                    continue
                if rule.count is not None and rule.hits >= rule.count:
                    continue
                if rule.rate < 1 and self.rng.random() >= rule.rate:
                    continue
                rule.hits += 1
                return rule
        return None

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"webhook": self.webhook.describe(), "api": [r.describe() for r in self.api]}


def parse_cli(spec: str) -> dict[str, Any]:
    """`webhook:drop_rate=0.2,delay=1` or `api:kind=error,path=^/v1/refunds,count=2` → JSON spec."""
    scope, _, rest = spec.partition(":")
    values: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        values[key.strip()] = value.strip()
    if scope == "webhook":
        if "delay_range" in values:
            low, _, high = values["delay_range"].partition("-")
            values["delay_range"] = [float(low), float(high)]
        return {"webhook": values}
    if scope == "api":
        return {"api": [values]}
    raise ValueError(f"fault spec must start with 'webhook:' or 'api:', got {spec!r}")
