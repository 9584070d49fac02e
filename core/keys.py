"""Idempotency keys of business operations (invariant 2), shared by every app that writes to
Stripe."""

from __future__ import annotations


def idempotency_key(entity: str, pk: int | str, operation: str, *, version: int = 1) -> str:
    """The key of one business operation, e.g. `order:12:payment-intent:v1`.

    Bump `version` only when the operation itself changes (for example a new PaymentIntent for
    an order whose amount changed); every retry of the same operation must reuse the same key.
    """
    return f"{entity}:{pk}:{operation}:v{version}"
