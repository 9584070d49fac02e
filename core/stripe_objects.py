"""Reading Stripe's objects, shared by every app that mirrors them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def id_of(value: Any) -> str:
    """The id in a Stripe field that is an id or, expanded, an object (`charge`, `latest_charge`,
    `payment_intent`, `source`); "" for none."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value or "")


def time_of(value: Any) -> datetime | None:
    """A Stripe time (seconds since the epoch, `created`, `due_by`, `arrival_date`) as an aware
    UTC datetime; None for none, and for 0, which Stripe writes for "no such time" (a dispute's
    `due_by` when the bank allows no answer)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None
