"""Receiving a delivery: check it (size, content type, signature, shape, mode), store it once,
and wake the drain once it is committed. No Stripe call and no handler run here: this is the
webhook's request path, and it must answer in milliseconds."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import insert_or_skip
from payments import stripe_gateway
from payments.models import StripeEvent
from payments.services.events.wakeup import stripe_events_wake
from payments.stripe_gateway import SignatureInvalid

# Short reasons for the 4xx answers (tests compare them).
REASON_TOO_LARGE = "payload too large"
REASON_CONTENT_TYPE = "content type must be application/json"
REASON_NO_SIGNATURE = "missing Stripe-Signature header"
REASON_BAD_SIGNATURE = "signature does not verify (or the timestamp is outside the tolerance)"
REASON_BAD_JSON = "body is not valid JSON"
REASON_NOT_EVENT = "body is not a Stripe event"
REASON_WRONG_MODE = "event mode does not match this configuration"


logger = logging.getLogger(__name__)


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


def stripe_event_record(*, envelope: EventEnvelope, source: str) -> int | None:
    """Store the event once: `INSERT … ON CONFLICT (stripe_id) DO NOTHING RETURNING id`, one
    statement, so a duplicate costs no exception and no rollback. Returns the new row's id (and
    wakes the drain once committed), or None for an event we already had.

    The payload text goes in as it came (PostgreSQL casts it to jsonb): no re-serialising."""
    now = timezone.now()
    # No atomic block: in autocommit the single INSERT is its own transaction (one round trip,
    # no BEGIN/COMMIT), and on_commit then runs at once; inside a caller's transaction it waits
    # for that commit. Either way the drain is woken only for a committed row.
    pk = insert_or_skip(
        model=StripeEvent,
        values={
            "stripe_id": envelope.stripe_id,
            "type": envelope.type,
            "object_id": envelope.object_id,
            "livemode": envelope.livemode,
            "stripe_created": datetime.fromtimestamp(envelope.created, tz=UTC),
            "api_version": envelope.api_version,
            "payload": envelope.payload_text,
            "status": StripeEvent.Status.PENDING,
            "source": source,
            "attempts": 0,
            "last_error": "",
            "created_at": now,
            "updated_at": now,
        },
        conflict=["stripe_id"],
        returning="id",
    )
    if pk is None:
        return None
    # With the request's id on it (core.context): the worker's line for the same evt_ carries its
    # task id, so one event can be followed from the web process to the worker.
    logger.info("stripe event stored evt=%s type=%s source=%s", envelope.stripe_id, envelope.type, source)
    transaction.on_commit(stripe_events_wake)
    return int(pk)


def stripe_event_receive(*, payload: bytes, sig_header: str | None, content_type: str) -> int | None:
    """The whole request path of a delivery: check it, store it once. No Stripe call, no handler."""
    envelope = webhook_event_parse(payload=payload, sig_header=sig_header, content_type=content_type)
    return stripe_event_record(envelope=envelope, source=StripeEvent.Source.WEBHOOK)
