"""Handlers of `payout.*` events, listed in the one handler table (payments.handlers.HANDLERS).

They run in the event's processing transaction: the payout mirror is synced forward-only, and a
paid payout (or `payout.reconciliation_completed`) queues its reconciliation once that commits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciliation.services.payouts import payout_reconcile_on_commit, payout_sync

if TYPE_CHECKING:
    from payments.models import StripeEvent

RECONCILIATION_COMPLETED = "payout.reconciliation_completed"


def handle_payout(event: StripeEvent) -> str | None:
    obj = event.payload["data"]["object"]
    seen_at = int(event.stripe_created.timestamp()) if event.stripe_created else None
    result = payout_sync(
        obj=obj,
        source=event.stripe_id,  # pragma: no mutate: only payout_sync's log line reads it
        seen_at=seen_at,
    )
    payout = result.payout
    completed = event.type == RECONCILIATION_COMPLETED and payout.status == payout.Status.PAID
    # A repeated or stale snapshot queues nothing: the hourly sweep (reconcile_pending_payouts)
    # catches a reconciliation whose message was lost.
    if (result.changed and result.ready_to_reconcile) or (
        completed and payout.automatic and not payout.reconciled
    ):
        payout_reconcile_on_commit(payout_id=payout.stripe_id)
        return None
    return None if result.changed else f"{payout.stripe_id} unchanged (stale or repeated snapshot)"
