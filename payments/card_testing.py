"""Card-testing defences: a limit on payment attempts per browser session, per address and per
email address, and an alert when the shop's declines pass a threshold within minutes.

Card testers try thousands of stolen cards in small payments; each attempt costs the shop fees
and a high decline rate can get its Stripe account closed. The Payment Element confirms in the
browser, against Stripe, so we count what the server sees:

- a checkout form that places an order (it creates or updates the PaymentIntent or Checkout
  Session), a payment page load (our card page, which creates or updates the PaymentIntent, or
  the redirect to Stripe Checkout): one attempt for the session, the address and the email;
- a decline (a `payment_intent.payment_failed` event, once per change of the order): one
  attempt for the order's address and email, and one decline for the shop.

Once a session, an address or an email has `CARD_TESTING_MAX_*` attempts within
`CARD_TESTING_WINDOW_SECONDS`, the checkout form and the payment pages refuse with
`MESSAGE_TOO_MANY_ATTEMPTS` (429). A tester who keeps one card page open can still confirm
against the PaymentIntent until Stripe's own defences (Radar) stop them; their declines still
count, so every page they load next is refused, and staff are alerted.

Counters live in the cache (Redis in production, shared by every web process and worker), in
fixed windows. Cache keys hold a hash of the address or email, never the value itself, and the
alert carries counts only.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from payments.alerts import AlertKind, alert_send_on_commit

MESSAGE_TOO_MANY_ATTEMPTS = (
    "Too many payment attempts in a short time. Nothing was charged. "
    "Please wait an hour before you try again, or contact us."
)


@dataclass(frozen=True)
class Attempt:
    """Who is paying, as the server sees them; any part may be unknown."""

    session_key: str | None = None
    ip: str | None = None
    email: str | None = None


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def _window() -> int:
    return int(settings.CARD_TESTING_WINDOW_SECONDS)


def _key(kind: str, value: str, *, window: int) -> str:
    return f"card-testing:{kind}:{_digest(value)}:{int(time.time()) // window}"


def _keys(attempt: Attempt) -> list[tuple[str, int]]:
    """(cache key, limit) for each known part of the attempt."""
    window = _window()
    parts = (
        ("session", attempt.session_key, settings.CARD_TESTING_MAX_PER_SESSION),
        ("ip", attempt.ip, settings.CARD_TESTING_MAX_PER_ADDRESS),
        ("email", attempt.email, settings.CARD_TESTING_MAX_PER_EMAIL),
    )
    return [(_key(kind, value, window=window), int(limit)) for kind, value, limit in parts if value]


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def payment_attempt_allowed(*, attempt: Attempt) -> bool:
    """False once any part of the attempt reached its limit in this window."""
    keys = _keys(attempt)
    counts = cache.get_many([key for key, _ in keys])
    return all(int(counts.get(key, 0)) < limit for key, limit in keys)


def payment_attempt_record(*, attempt: Attempt) -> None:
    for key, _ in _keys(attempt):
        _incr(key, timeout=_window() * 2)


def payment_attempt_check_and_record(*, attempt: Attempt) -> bool:
    """The views' one call: refuse (False) at the limit, else count this attempt (True)."""
    if not payment_attempt_allowed(attempt=attempt):
        return False
    payment_attempt_record(attempt=attempt)
    return True


def payment_decline_record(*, attempt: Attempt, decline_id: str) -> int:
    """A decline the server learnt of: counts as an attempt for its address and email, and
    towards the shop's decline alert, once per `decline_id` (the failed charge: Stripe may send
    two events for one decline, and a replayed event comes again). Returns the shop's declines
    in the current window."""
    window = int(settings.CARD_TESTING_DECLINE_WINDOW_SECONDS)
    if not cache.add(f"card-testing:decline-seen:{decline_id}", 1, timeout=max(window, _window()) * 2):
        return int(cache.get(f"card-testing:shop-declines:{int(time.time()) // window}") or 0)
    payment_attempt_record(attempt=Attempt(ip=attempt.ip, email=attempt.email))
    bucket = int(time.time()) // window
    declines = _incr(f"card-testing:shop-declines:{bucket}", timeout=window * 2)
    threshold = int(settings.CARD_TESTING_DECLINE_ALERT_THRESHOLD)
    if declines == threshold:  # once per window, when it is crossed
        minutes = max(1, window // 60)
        alert_send_on_commit(
            kind=AlertKind.CARD_TESTING,
            message=(
                f"{declines} declined payments within {minutes} minutes (threshold {threshold}): "
                "possible card testing"
            ),
            ids={"declines": declines, "threshold": threshold, "window_minutes": minutes},
        )
    return declines
