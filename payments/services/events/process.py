"""Processing one stored event: lock its row, dispatch it through the handler table, record the
outcome; on failure, count the attempt and keep the error (masked), or dead-letter the event and
alert staff.

Lock order everywhere: StripeEvent rows, then Order rows, then Refund rows.
"""

from __future__ import annotations

import logging
import re

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from config.logging import mask_secrets
from payments.alerts import AlertKind, alert_send
from payments.handlers import HANDLERS
from payments.models import StripeEvent
from payments.services.events.retry import MAX_ATTEMPTS, OPEN_STATUSES, TRANSIENT_ERRORS
from payments.services.objects import NOTE_NO_ORDER
from payments.stripe_gateway import StripeGatewayError

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[^\s@'\"]+@[^\s@'\"]+\.[A-Za-z]{2,}")


def _safe_error(error: BaseException) -> str:
    """The error as staff may read it on the event row: our gateway's messages are safe by
    construction; anything else is cut to its first line with secrets, card numbers and emails
    masked (a database error can quote row values)."""
    if isinstance(error, StripeGatewayError):
        text = str(error)
    else:
        text = str(error).splitlines()[0] if str(error) else ""
        text = EMAIL_RE.sub("[email]", mask_secrets(text))[:300]
    return f"{type(error).__name__}: {text}"[:1000]


def stripe_event_handle(*, event: StripeEvent) -> str:
    """Dispatch a locked, open event through the handler table and record the outcome, inside
    the caller's transaction; a handler's error propagates."""
    handler = HANDLERS.get(event.type)
    note = handler(event) if handler is not None else None
    status = StripeEvent.Status.PROCESSED
    if handler is None or note == NOTE_NO_ORDER:
        status = StripeEvent.Status.IGNORED
    now = timezone.now()
    stripe_id, event_type = event.stripe_id, event.type
    transaction.on_commit(
        lambda: logger.info("stripe event %s evt=%s type=%s", status, stripe_id, event_type)
    )
    StripeEvent.objects.filter(pk=event.pk).update(
        status=status,
        attempts=F("attempts") + 1,
        last_error=note or "",
        processed_at=now,
        updated_at=now,
    )
    return status


def stripe_event_process(*, event_pk: int, skip_locked: bool = False) -> str:
    """Process one stored event, safely twice or concurrently: lock the row, skip it if done,
    dispatch through the handler table, record the outcome. On a transient error the row is
    marked retrying and the error re-raised (the task retries with backoff); on the last attempt,
    or on any other error, it is dead-lettered and staff are alerted. With `skip_locked` (the
    drain) a row another worker is processing is left to it: "skipped"."""
    try:
        with transaction.atomic():
            event = StripeEvent.objects.select_for_update(skip_locked=skip_locked).filter(pk=event_pk).first()
            if event is None:
                return "skipped" if skip_locked else "missing"
            if event.status not in OPEN_STATUSES:
                return event.status
            return stripe_event_handle(event=event)
    except Exception as error:
        try:
            outcome = stripe_event_record_failure(event_pk=event_pk, error=error)
        except DatabaseError:
            raise error from None
        if outcome == StripeEvent.Status.RETRYING:
            raise
        return outcome


def stripe_event_record_failure(*, event_pk: int, error: BaseException) -> str:
    """Count the failed attempt and keep a safe copy of the error; dead-letter the event when
    the error is not transient or the attempts are used up."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None or event.status not in OPEN_STATUSES:
            return event.status if event else "missing"
        event.attempts += 1
        dead = not isinstance(error, TRANSIENT_ERRORS) or event.attempts >= MAX_ATTEMPTS
        event.status = StripeEvent.Status.DEAD if dead else StripeEvent.Status.RETRYING
        event.last_error = _safe_error(error)
        event.save(update_fields=["attempts", "status", "last_error", "updated_at"])
    # The log line names the error's class only: its text can quote payload values (a name or an
    # email); the masked text is on the row, for staff.
    log = logger.error if dead else logger.warning
    log(
        "stripe event %s (%s) attempt %s failed: %s",
        event.stripe_id,
        event.type,
        event.attempts,
        type(error).__name__,
    )
    if dead:
        alert_send(
            kind=AlertKind.EVENT_DEAD,
            message=(
                f"Stripe event {event.stripe_id} ({event.type}, object {event.object_id or '-'}) "
                f"dead-lettered after {event.attempts} attempts: {type(error).__name__}"
            ),
            ids={"event": event.stripe_id, "object": event.object_id, "type": event.type},
        )
    return event.status
