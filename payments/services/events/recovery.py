"""The safety nets of the inbox, run by beat: put back rows whose broker message was lost (the
re-queue job), and pull from `GET /v1/events` the events that never reached us (the recovery
job and the `recover_stripe_events` command)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from core.wakeups import wakeup_release
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send
from payments.models import EventCheckpoint, StripeEvent
from payments.services.events.receive import stripe_event_envelope, stripe_event_record, stripe_live_mode
from payments.services.events.retry import OPEN_STATUSES
from payments.services.events.wakeup import DRAIN_WAKEUP, stripe_events_wake

logger = logging.getLogger(__name__)

# A row still pending (or waiting for a retry) this long after its last change lost its broker
# message: queue it again. Longer than the task's longest backoff, so a retry on its way is not
# doubled in the normal case (and a double is harmless: processing locks and skips done rows).
REQUEUE_AFTER = timedelta(minutes=5)
REQUEUE_BATCH = 1000


def stripe_event_requeue_stale(*, older_than: timedelta = REQUEUE_AFTER, limit: int = REQUEUE_BATCH) -> int:
    """Queue again the events left pending or retrying longer than `older_than`."""
    cutoff = timezone.now() - older_than
    pks = list(
        StripeEvent.objects.filter(status__in=OPEN_STATUSES, updated_at__lte=cutoff)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not pks:
        return 0
    # Back to pending for the drain, touched so the next run leaves them alone for another
    # `older_than`. A wake-up row left behind means its drain message was lost: drop it.
    StripeEvent.objects.filter(pk__in=pks).update(
        status=StripeEvent.Status.PENDING, updated_at=timezone.now()
    )
    wakeup_release(name=DRAIN_WAKEUP)
    queued = stripe_events_wake()
    logger.info("re-queued %s stale stripe events (drain queued: %s)", len(pks), queued)
    return len(pks)


CHECKPOINT_NAME = "events"
# Events can be created before the checkpoint and still be on their way (Stripe retries for
# days); re-reading a window behind it costs one conflicting insert per event we already have.
RECOVERY_OVERLAP = timedelta(minutes=30)
RECOVERY_FIRST_WINDOW = timedelta(days=3)
RECOVERY_ALERT_IDS = 10


@dataclass
class RecoverySummary:
    checked: int = 0
    recovered: list[str] = field(default_factory=list)
    already_had: int = 0
    other_mode: int = 0

    def __str__(self) -> str:
        return f"checked {self.checked}, recovered {len(self.recovered)}, already had {self.already_had}"


def stripe_event_recover(
    *, since: datetime | None = None, progress: Callable[[RecoverySummary, int], None] | None = None
) -> RecoverySummary:
    """Pull `GET /v1/events` and store, through the same insert as the webhook, every event we
    never received. Without `since`, start from the saved checkpoint (minus an overlap) and move
    the checkpoint forward afterwards; with it (the management command), read that window."""
    checkpoint = None
    if since is None:
        checkpoint, _ = EventCheckpoint.objects.get_or_create(name=CHECKPOINT_NAME)
        if checkpoint.last_created:
            since = datetime.fromtimestamp(checkpoint.last_created, tz=UTC) - RECOVERY_OVERLAP
        else:
            since = timezone.now() - RECOVERY_FIRST_WINDOW
    summary = RecoverySummary()
    newest = checkpoint.last_created if checkpoint else 0
    live = stripe_live_mode()
    for event in stripe_gateway.event_list(params={"created": {"gte": int(since.timestamp())}, "limit": 100}):
        summary.checked += 1
        envelope = stripe_event_envelope(event=event, payload_text=json.dumps(event))
        newest = max(newest, envelope.created)
        if envelope.livemode != live:
            summary.other_mode += 1
        elif stripe_event_record(envelope=envelope, source=StripeEvent.Source.RECOVERY) is None:
            summary.already_had += 1
        else:
            summary.recovered.append(envelope.stripe_id)
        if progress is not None:
            progress(summary, envelope.created)
    if checkpoint is not None and newest > checkpoint.last_created:
        EventCheckpoint.objects.filter(pk=checkpoint.pk, last_created__lt=newest).update(
            last_created=newest, updated_at=timezone.now()
        )
    logger.info("stripe event recovery since %s: %s", since.isoformat(), summary)
    if summary.recovered:
        shown = ", ".join(summary.recovered[:RECOVERY_ALERT_IDS])
        more = len(summary.recovered) - RECOVERY_ALERT_IDS
        alert_send(
            kind=AlertKind.EVENTS_RECOVERED,
            message=f"Recovered {len(summary.recovered)} missed Stripe events: {shown}"
            + (f" and {more} more" if more > 0 else ""),
            ids={"events": shown},
        )
    return summary
