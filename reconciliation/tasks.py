"""Celery tasks of the reconciliation: thin, take ids, call one service, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError

from config.celery import task_send
from payments.stripe_gateway import RateLimited, StripeUnavailable
from reconciliation.services.ledger import LEDGER_NIGHTLY_WINDOW, ledger_check
from reconciliation.services.payouts import RECONCILE_TASK, payout_reconcile, payouts_to_reconcile

TRANSIENT_ERRORS = (StripeUnavailable, RateLimited, OperationalError, InterfaceError)
MAX_RETRIES = 8
RETRY_BACKOFF_MAX_SECONDS = 600


@shared_task(
    name="reconciliation.reconcile_payout",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def reconcile_payout(payout_id: str) -> bool:
    """Reconcile one payout (`po_…`); returns whether it adds up."""
    return payout_reconcile(payout_id=payout_id).reconciled


@shared_task(
    name="reconciliation.reconcile_ledger",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def reconcile_ledger(window_seconds: int = int(LEDGER_NIGHTLY_WINDOW.total_seconds())) -> int:
    """The nightly ledger check over the last `window_seconds`; returns the cases it opened."""
    return ledger_check(window=timedelta(seconds=window_seconds)).opened


@shared_task(name="reconciliation.reconcile_pending_payouts", acks_late=True)
def reconcile_pending_payouts() -> int:
    """Queue a reconciliation for every paid payout not reconciled yet; returns how many."""
    count = 0
    for payout_id in payouts_to_reconcile():
        task_send(name=RECONCILE_TASK, args=[payout_id])
        count += 1
    return count
