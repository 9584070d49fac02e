"""Billing's tasks: thin, take ids, safe to run twice."""

from __future__ import annotations

import smtplib
import time

from celery import shared_task

from billing.services import (
    billing_resync,
    dunning_notice_send,
    dunning_notices_send_missed,
    subscriber_welcome_send,
)
from payments.stripe_gateway import RateLimited, StripeUnavailable

RESYNC_WINDOW_SECONDS = 400 * 86400  # subscriptions renew for years; look back over a year


@shared_task(
    name="billing.send_dunning_notice",
    autoretry_for=(smtplib.SMTPException, ConnectionError),
    retry_backoff=True,
    max_retries=5,
)
def send_dunning_notice(notice_pk: int) -> bool:
    return dunning_notice_send(notice_pk=notice_pk)


@shared_task(
    name="billing.send_welcome",
    autoretry_for=(smtplib.SMTPException, ConnectionError),
    retry_backoff=True,
    max_retries=5,
)
def send_welcome(subscriber_pk: int) -> bool:
    return subscriber_welcome_send(subscriber_pk=subscriber_pk)


@shared_task(
    name="billing.resync_subscriptions",
    autoretry_for=(StripeUnavailable, RateLimited),
    retry_backoff=True,
    max_retries=3,
)
def resync_subscriptions() -> int:
    return billing_resync(since=int(time.time()) - RESYNC_WINDOW_SECONDS)


@shared_task(name="billing.send_missed_notices", acks_late=True)
def send_missed_notices() -> int:
    return dunning_notices_send_missed()
