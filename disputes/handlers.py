"""Event handlers for disputes and early fraud warnings, registered in `payments.handlers.HANDLERS`.

Each takes the stored, locked `StripeEvent` and calls one sync service with the event's object
and its `created` time, so a stale or repeated event changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from disputes.services import dispute_sync, early_fraud_warning_sync

if TYPE_CHECKING:
    from payments.models import StripeEvent


def _seen_at(event: StripeEvent) -> int | None:
    return int(event.stripe_created.timestamp()) if event.stripe_created else None


def handle_dispute(event: StripeEvent) -> str | None:
    """charge.dispute.created/updated/closed/funds_withdrawn/funds_reinstated: the snapshot in
    the event is the dispute's state (the funds events carry the dispute too; the money itself
    shows up through the balance transactions of the reconciliation work)."""
    result = dispute_sync(obj=event.payload["data"]["object"], seen_at=_seen_at(event))
    return result.note or None


def handle_early_fraud_warning(event: StripeEvent) -> str | None:
    early_fraud_warning_sync(obj=event.payload["data"]["object"], seen_at=_seen_at(event))
    return None
