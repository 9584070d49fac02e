"""Stripe's rate limiter, on demand.

Off by default (a test or a bench that does not ask for it never sees a 429 from it). Turned on
with `POST /_emulator/rate_limits`:

    {"enabled": true,
     "test": {"default": 25, "search": 20, "files": 20},
     "live": {"default": 100, "search": 20, "files": 20}}

Any part may be left out (the figures above are the defaults: Stripe's documented limits, see
docs.stripe.com/rate-limits). Each (mode, kind) has its own token bucket holding at most `N`
tokens, refilled at `N` a second, as Stripe's limiter allows a short burst and then the steady
rate. The mode follows the key (`sk_live_…` → live); the kind follows the path: `/search`
endpoints (`GET /v1/<resource>/search`) are `search`, `/v1/files` is `files`, everything else
`default` (the global limit). A request with no token gets Stripe's answer: 429,
`type=invalid_request_error`, `code=rate_limit`, header `Stripe-Rate-Limited-Reason`
(`global-rate` for the default bucket, `endpoint-rate` for search and files) and no
`Stripe-Should-Retry` (the SDKs do not retry it). `GET /_emulator/rate_limits` shows the
settings and the counts of allowed and limited requests per mode and kind.
"""

from __future__ import annotations

import threading
import time
from typing import Any

KINDS = ("default", "search", "files")
MODES = ("test", "live")
DEFAULT_LIMITS: dict[str, dict[str, float]] = {
    "test": {"default": 25, "search": 20, "files": 20},
    "live": {"default": 100, "search": 20, "files": 20},
}
REASONS = {"default": "global-rate", "search": "endpoint-rate", "files": "endpoint-rate"}
MESSAGE = (
    "Request rate limit exceeded. You can learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)


def kind_of(path: str) -> str:
    if path.startswith("/v1/files"):
        return "files"
    if path.endswith("/search"):
        return "search"
    return "default"


class RateLimiter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.enabled = False
            self.limits = {mode: dict(kinds) for mode, kinds in DEFAULT_LIMITS.items()}
            self.tokens: dict[tuple[str, str], float] = {}
            self.stamps: dict[tuple[str, str], float] = {}
            self.counts: dict[tuple[str, str], dict[str, int]] = {}

    def configure(self, spec: dict[str, Any]) -> None:
        unknown = set(spec) - {"enabled", *MODES}
        if unknown:
            raise ValueError(f"unknown rate limit settings: {sorted(unknown)}")
        with self.lock:
            for mode in MODES:
                for kind, value in (spec.get(mode) or {}).items():
                    if kind not in KINDS:
                        raise ValueError(f"unknown rate limit kind: {kind} (one of {list(KINDS)})")
                    if float(value) <= 0:
                        raise ValueError("a rate limit must be more than 0 requests a second")
                    self.limits[mode][kind] = float(value)
            if "enabled" in spec:
                self.enabled = bool(spec["enabled"])
            # A new setting starts from full buckets and fresh counts.
            self.tokens.clear()
            self.stamps.clear()
            self.counts.clear()

    def take(self, livemode: bool, path: str) -> str | None:
        """Spend a token for this request; None if allowed, else the Stripe-Rate-Limited-Reason."""
        if not self.enabled:
            return None
        mode, kind = ("live" if livemode else "test"), kind_of(path)
        bucket = (mode, kind)
        rate = self.limits[mode][kind]
        now = time.monotonic()
        with self.lock:
            tokens = self.tokens.get(bucket, rate)
            tokens = min(rate, tokens + (now - self.stamps.get(bucket, now)) * rate)
            self.stamps[bucket] = now
            counts = self.counts.setdefault(bucket, {"allowed": 0, "limited": 0})
            if tokens >= 1:
                self.tokens[bucket] = tokens - 1
                counts["allowed"] += 1
                return None
            self.tokens[bucket] = tokens
            counts["limited"] += 1
            return REASONS[kind]

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                "enabled": self.enabled,
                **{mode: dict(kinds) for mode, kinds in self.limits.items()},
                "counts": {
                    f"{mode}.{kind}": dict(counts) for (mode, kind), counts in sorted(self.counts.items())
                },
            }
