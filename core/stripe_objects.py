"""Reading Stripe's objects, shared by every app that mirrors them."""

from __future__ import annotations

from typing import Any


def id_of(value: Any) -> str:
    """The id in a Stripe field that is an id or, expanded, an object (`charge`, `latest_charge`,
    `payment_intent`, `source`); "" for none."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value or "")
