"""Celery tasks for orders: thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from orders.emails import CONFIRMATIONS_TASK, order_confirmation_send_missed, order_confirmations_drain


@shared_task(name=CONFIRMATIONS_TASK, acks_late=True)
def send_confirmations() -> int:
    """Woken on commit of fulfillments: sends every confirmation still due."""
    return order_confirmations_drain()


@shared_task(name="orders.send_missed_confirmations", acks_late=True)
def send_missed_confirmations() -> int:
    return order_confirmation_send_missed()
