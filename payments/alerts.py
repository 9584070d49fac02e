"""Alerts for people: payment failures, failed 3-D Secure, dead-lettered and recovered events,
payouts that do not add up and ledger discrepancies.

An alert carries identifiers only (invariant 6): the order number, Stripe ids, Stripe's codes.
`message` must be composed from those by the caller, and `ids` is a flat mapping of identifier
names to values; nothing else from an order or a payload goes in. Sent to the log, by email to
`settings.ALERT_EMAILS` and, when set, as JSON to `settings.ALERT_CHAT_WEBHOOK_URL`. A failure
to send is logged, never raised: an alert must not break the work that raised it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import TextChoices

from config.logging import mask_secrets
from core.security import cooloff_seconds

logger = logging.getLogger(__name__)

CHAT_TIMEOUT_SECONDS = 3.0
SUBJECT_PREFIX = "[payments] "


class AlertKind(TextChoices):
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    THREE_DS_FAILED = "three_ds_failed", "3-D Secure failed"
    EVENT_DEAD = "event_dead", "Event dead-lettered"
    EVENTS_RECOVERED = "events_recovered", "Missed events recovered"
    REFUND_FAILED = "refund_failed", "Refund failed"
    PAYOUT_UNEXPLAINED = "payout_unexplained", "Payout does not add up"
    DISCREPANCY_OPENED = "discrepancy_opened", "Ledger discrepancy opened"
    DISPUTE_OPENED = "dispute_opened", "Dispute opened"
    DISPUTE_CLOSED = "dispute_closed", "Dispute closed"
    DISPUTE_DEADLINE = "dispute_deadline", "Dispute evidence due soon"
    DISPUTE_PAST_DUE = "dispute_past_due", "Dispute evidence past due"
    DISPUTE_EVIDENCE_REFUSED = "dispute_evidence_refused", "Dispute evidence over Stripe's limits"
    EARLY_FRAUD_WARNING = "early_fraud_warning", "Early fraud warning"
    LOGIN_LOCKED_OUT = "login_locked_out", "Staff login locked out"
    CARD_TESTING = "card_testing", "Declines past the card-testing threshold"
    STRIPE_RATE_LIMITED = "stripe_rate_limited", "Stripe rate-limited a customer's call"
    RENEWAL_FAILED = "renewal_failed", "Subscription renewal failed"
    SUBSCRIPTION_ENDED = "subscription_ended", "Subscription access ended"


def alert_send(*, kind: str, message: str, ids: Mapping[str, str | int | None]) -> None:
    """Send one alert now, on every configured channel."""
    text = mask_secrets(message)
    fields = {key: str(value) for key, value in ids.items() if value not in (None, "")}
    logger.warning("alert %s: %s", kind, text, extra={"alert": kind, **fields})
    if settings.ALERT_EMAILS:
        try:
            send_mail(
                subject=f"{SUBJECT_PREFIX}{text}"[:200],
                message=text + "\n\n" + "\n".join(f"{key}: {value}" for key, value in fields.items()),
                from_email=None,
                recipient_list=list(settings.ALERT_EMAILS),
            )
        except Exception:
            logger.exception("alert %s: email not sent", kind)
    if settings.ALERT_CHAT_WEBHOOK_URL:
        body = json.dumps({"kind": kind, "text": text, "ids": fields}).encode()
        request = urllib.request.Request(  # noqa: S310 (the URL comes from our own settings)
            settings.ALERT_CHAT_WEBHOOK_URL,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=CHAT_TIMEOUT_SECONDS) as response:  # noqa: S310
                response.read()
        except Exception as error:
            logger.warning("alert %s: chat webhook not reached (%s)", kind, type(error).__name__)


def alert_send_on_commit(*, kind: str, message: str, ids: Mapping[str, str | int | None]) -> None:
    """Send the alert once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(lambda: alert_send(kind=kind, message=message, ids=ids))


def alert_login_locked_out(
    sender: object,
    request: object = None,
    username: object = None,
    ip_address: object = None,
    **kwargs: object,
) -> None:
    """django-axes' `user_locked_out` receiver (connected in PaymentsConfig.ready): one alert
    per lockout, with the username and the address only. Axes signals again on every refused
    attempt, with whatever username was typed, so an alert goes out only when neither this
    username nor this address has had one within the cool-off (an address cycling through
    usernames is one alert)."""
    name, address = str(username or ""), str(ip_address or "")
    new_username = cache.add(f"alerts:lockout:username:{name}", 1, timeout=cooloff_seconds())
    new_address = cache.add(f"alerts:lockout:ip:{address}", 1, timeout=cooloff_seconds())
    if not (new_username and new_address):
        return
    alert_send(
        kind=AlertKind.LOGIN_LOCKED_OUT,
        message=f"Staff login locked out after repeated failures: username {name!r} from {address}",
        ids={"username": name, "ip_address": address},
    )
