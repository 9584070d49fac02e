"""The Stripe event inbox: receive (verify, store once, queue), process (lock, dispatch, record),
and the safety nets (re-queue stale rows, recover missed events, staff replay).

Lock order everywhere: StripeEvent rows, then Order rows, then Refund rows.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config.logging import mask_secrets
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send
from payments.models import EventCheckpoint, StripeEvent
from payments.services.objects import NOTE_NO_ORDER
from payments.services.wakeups import wake, wakeup_release
from payments.stripe_gateway import RateLimited, SignatureInvalid, StripeGatewayError, StripeUnavailable

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

# ---------------------------------------------------------------------------- receiving

# Short reasons for the 4xx answers (tests compare them).
REASON_TOO_LARGE = "payload too large"
REASON_CONTENT_TYPE = "content type must be application/json"
REASON_NO_SIGNATURE = "missing Stripe-Signature header"
REASON_BAD_SIGNATURE = "signature does not verify (or the timestamp is outside the tolerance)"
REASON_BAD_JSON = "body is not valid JSON"
REASON_NOT_EVENT = "body is not a Stripe event"
REASON_WRONG_MODE = "event mode does not match this configuration"


class WebhookRejected(Exception):
    """A delivery we refuse with a 4xx: nothing is stored."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class EventEnvelope:
    """What the inbox row needs from an event, parsed once."""

    stripe_id: str
    type: str
    created: int
    livemode: bool
    api_version: str
    object_id: str
    payload_text: str


def stripe_live_mode() -> bool:
    """Whether our own secret key is a live one: events of the other mode are refused."""
    return str(settings.STRIPE_SECRET_KEY).startswith(("sk_live_", "rk_live_"))


def stripe_event_envelope(*, event: Any, payload_text: str) -> EventEnvelope:
    """Pick the row's fields out of a decoded event, refusing anything that is not one."""
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookRejected(REASON_NOT_EVENT)
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    if (
        not isinstance(event_id, str)
        or not event_id.startswith("evt_")
        or len(event_id) > 255
        or not isinstance(event_type, str)
        or not event_type
        or len(event_type) > 128
        or not isinstance(created, int)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    ):
        raise WebhookRejected(REASON_NOT_EVENT)
    return EventEnvelope(
        stripe_id=event_id,
        type=event_type,
        created=created,
        livemode=bool(event.get("livemode")),
        api_version=str(event.get("api_version") or "")[:64],
        object_id=str(data["object"].get("id") or "")[:255],
        payload_text=payload_text,
    )


def webhook_event_parse(*, payload: bytes, sig_header: str | None, content_type: str) -> EventEnvelope:
    """Check a delivery (docs/architecture.md, step 3): size, content type, signature (against
    every configured secret, before parsing anything), JSON, event shape, mode."""
    if len(payload) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        raise WebhookRejected(REASON_TOO_LARGE, status=413)
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise WebhookRejected(REASON_CONTENT_TYPE)
    if not sig_header:
        raise WebhookRejected(REASON_NO_SIGNATURE)
    try:
        stripe_gateway.webhook_verify(payload=payload, sig_header=sig_header)
    except SignatureInvalid:
        raise WebhookRejected(REASON_BAD_SIGNATURE) from None
    try:
        text = payload.decode("utf-8")
        event = json.loads(text)
    except ValueError:
        raise WebhookRejected(REASON_BAD_JSON) from None
    envelope = stripe_event_envelope(event=event, payload_text=text)
    if envelope.livemode != stripe_live_mode():
        raise WebhookRejected(REASON_WRONG_MODE)
    return envelope


_COLUMNS = (
    "stripe_id",
    "type",
    "object_id",
    "livemode",
    "stripe_created",
    "api_version",
    "payload",
    "status",
    "source",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
)


@dataclass
class _InsertSql:
    text: str = ""

    def get(self) -> str:
        if not self.text:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(name) for name in _COLUMNS)
            placeholders = ", ".join(["%s"] * len(_COLUMNS))
            self.text = (
                f"INSERT INTO {quote(StripeEvent._meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
                f"ON CONFLICT ({quote('stripe_id')}) DO NOTHING RETURNING {quote('id')}"
            )
        return self.text


_insert_sql = _InsertSql()


def stripe_event_record(*, envelope: EventEnvelope, source: str) -> int | None:
    """Store the event once: `INSERT … ON CONFLICT (stripe_id) DO NOTHING RETURNING id`, one
    statement, so a duplicate costs no exception and no rollback. Returns the new row's id (and
    queues its processing once committed), or None for an event we already had.

    The payload text goes in as it came (PostgreSQL casts it to jsonb): no re-serialising."""
    now = timezone.now()
    values = (
        envelope.stripe_id,
        envelope.type,
        envelope.object_id,
        envelope.livemode,
        datetime.fromtimestamp(envelope.created, tz=UTC),
        envelope.api_version,
        envelope.payload_text,
        StripeEvent.Status.PENDING,
        source,
        0,
        "",
        now,
        now,
    )
    # No atomic block: in autocommit the single INSERT is its own transaction (one round trip,
    # no BEGIN/COMMIT), and on_commit then runs at once; inside a caller's transaction it waits
    # for that commit. Either way the task is queued only for a committed row.
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql.get(), values)
        row = cursor.fetchone()
    if row is None:
        return None
    transaction.on_commit(stripe_events_wake)
    return int(row[0])


DRAIN_WAKEUP = "stripe-events"


def stripe_events_wake() -> bool:
    """Make sure a pending event gets processed: wake the drain task, which processes every
    pending event in arrival order (payments.services.wakeups). A broker that is down loses
    nothing: the row stays pending and the re-queue job picks it up."""
    return wake(name=DRAIN_WAKEUP, publish=stripe_events_drain_publish)


def stripe_events_drain_publish() -> None:
    from payments.tasks import drain_stripe_events

    drain_stripe_events.apply_async(retry=False)


def stripe_event_receive(*, payload: bytes, sig_header: str | None, content_type: str) -> int | None:
    """The whole request path of a delivery: check it, store it once. No Stripe call, no handler."""
    envelope = webhook_event_parse(payload=payload, sig_header=sig_header, content_type=content_type)
    return stripe_event_record(envelope=envelope, source=StripeEvent.Source.WEBHOOK)


# ---------------------------------------------------------------------------- processing

# Attempts before an event is dead-lettered (the task's max_retries is the same number).
MAX_ATTEMPTS = 8
# Errors worth trying again: Stripe or the database not answering. Anything else is a bug or
# bad data, and goes straight to the dead letter for staff (retrying would not change it).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    StripeUnavailable,
    RateLimited,
    OperationalError,
    InterfaceError,
)
OPEN_STATUSES = (StripeEvent.Status.PENDING, StripeEvent.Status.RETRYING)


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


def _event_handle(event: StripeEvent) -> str:
    """Dispatch a locked, open event through the handler table and record the outcome, inside
    the caller's transaction; a handler's error propagates."""
    from payments.handlers import HANDLERS

    handler = HANDLERS.get(event.type)
    note = handler(event) if handler is not None else None
    status = StripeEvent.Status.PROCESSED
    if handler is None or note == NOTE_NO_ORDER:
        status = StripeEvent.Status.IGNORED
    now = timezone.now()
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
            return _event_handle(event)
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


# Events one drain task processes before it hands over to a fresh task (so the worker gets to
# other tasks, and a redelivered message after a crash redoes little), and per transaction.
DRAIN_LIMIT = 1000
DRAIN_PAGE = 50


def stripe_events_drain(*, limit: int = DRAIN_LIMIT) -> int:
    """Process the pending events in arrival order, a page per transaction; returns how many it
    took.

    It deletes the wake-up row before it looks: an event stored after that either is seen here or
    adds the row again and queues the next drain. A full first page means a backlog: it wakes a
    second drain to share it (the wake-up row keeps that to one waiting drain at a time)."""
    wakeup_release(name=DRAIN_WAKEUP)
    done, last_pk = 0, 0
    while done < limit:
        pks = _drain_page(after=last_pk)
        if not pks:
            return done
        if done == 0 and len(pks) == DRAIN_PAGE:
            stripe_events_wake()
        done += len(pks)
        last_pk = pks[-1]
    stripe_events_wake()  # more may be waiting: hand over to a fresh task
    return done


def _drain_page(*, after: int) -> list[int]:
    """Lock the next page of pending events (`FOR UPDATE SKIP LOCKED`: drains and per-event
    tasks running at once take disjoint rows) and process them in one transaction, one commit
    for the page. If any of them fails, the page is undone and its events are taken one at a
    time, each in its own transaction, so the failure is recorded against the event that caused
    it; an event that failed with a transient error gets its own task with backoff."""
    from payments.tasks import process_stripe_event, retry_countdown

    pks: list[int] = []
    try:
        with transaction.atomic():
            page = list(
                StripeEvent.objects.select_for_update(skip_locked=True)
                .filter(status=StripeEvent.Status.PENDING, pk__gt=after)
                .order_by("pk")[:DRAIN_PAGE]
            )
            pks = [event.pk for event in page]
            for event in page:
                _event_handle(event)
        return pks
    except Exception:
        if not pks:
            raise  # the page could not even be read: the database is down, the task retries
    for pk in pks:
        try:
            stripe_event_process(event_pk=pk, skip_locked=True)
        except Exception:
            try:
                process_stripe_event.apply_async(args=(pk,), countdown=retry_countdown(0), retry=False)
            except Exception as error:
                logger.warning("stripe event %s retry not queued (%s)", pk, type(error).__name__)
    return pks


# ---------------------------------------------------------------------------- safety nets

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


def stripe_event_replay(*, events: Iterable[StripeEvent], actor: Any = None) -> int:
    """Staff replay: put the events back to pending with fresh attempts and wake the drain.
    Handlers are idempotent on the object, so replaying a processed event changes nothing
    that is already right."""
    from payments.services.staff import staff_action_record

    count = 0
    with transaction.atomic():
        for event in events:
            StripeEvent.objects.filter(pk=event.pk).update(
                status=StripeEvent.Status.PENDING,
                attempts=0,
                last_error="",
                source=StripeEvent.Source.REPLAY,
                updated_at=timezone.now(),
            )
            staff_action_record(actor=actor, action="replay_event", target=event.stripe_id, outcome="queued")
            count += 1
        if count:
            transaction.on_commit(stripe_events_wake)
    return count
