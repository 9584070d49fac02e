"""Celery tasks for orders: thin, take ids, safe to run twice."""

from __future__ import annotations

import smtplib

from celery import shared_task

from orders.emails import order_confirmation_send, order_confirmation_send_missed

CONFIRMATION_MAX_RETRIES = 8


@shared_task(
    name="orders.send_confirmation",
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=CONFIRMATION_MAX_RETRIES,
)
def order_send_confirmation(order_id: int) -> bool:
    return order_confirmation_send(order_pk=order_id)


@shared_task(name="orders.send_missed_confirmations", acks_late=True)
def send_missed_confirmations() -> int:
    return order_confirmation_send_missed()
