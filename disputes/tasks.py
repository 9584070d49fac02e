"""Celery tasks for disputes: thin, take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from disputes.services import dispute_deadlines_check, dispute_evidence_prepare, dispute_evidence_sweep
from payments.stripe_gateway import RateLimited, StripeUnavailable

# Stripe or the database not answering: worth trying again with the same idempotency keys.
# Anything else (evidence over Stripe's limits, a refused request) is not retried.
TRANSIENT_ERRORS = (StripeUnavailable, RateLimited, OperationalError, InterfaceError)
EVIDENCE_MAX_RETRIES = 10
EVIDENCE_RETRY_BACKOFF_MAX_SECONDS = 600


@shared_task(
    name="disputes.prepare_evidence",
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=EVIDENCE_RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=EVIDENCE_MAX_RETRIES,
)
def prepare_evidence(dispute_pk: int) -> str:
    """Build and stage a new dispute's evidence (queued on commit of the dispute)."""
    draft = dispute_evidence_prepare(dispute_pk=dispute_pk)
    if draft is None:
        return "nothing to do"
    return "staged" if draft.staged_at else "refused"


@shared_task(name="disputes.warn_deadlines", acks_late=True)
def warn_deadlines() -> int:
    return dispute_deadlines_check()


@shared_task(name="disputes.sweep_evidence", acks_late=True)
def sweep_evidence() -> int:
    """Queue the evidence task again where it seems lost (see dispute_evidence_sweep)."""
    return dispute_evidence_sweep()
