"""The order confirmation email: once per paid order, whatever runs twice, fails or is lost."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.utils import timezone

from core.models import DrainWakeup
from core.wakeups import WAKEUP_LOST_AFTER, wakeup_claim, wakeups_sweep
from orders import emails
from orders.emails import order_confirmation_send, order_confirmation_send_missed, order_confirmations_drain
from orders.models import Fulfillment, Order
from orders.services import order_fulfill
from orders.tasks import send_confirmations
from tests.factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


def fulfilled_order(*, ago: timedelta = timedelta(0), **fields: Any) -> Order:
    order = OrderFactory(status=Order.Status.PAID, **fields)
    OrderItemFactory(order=order)
    assert order_fulfill(order=order, source="evt_test", locked=False) is True
    Fulfillment.objects.filter(order=order).update(created_at=timezone.now() - ago)
    return order


def test_the_email_names_the_order_its_items_and_total_and_nothing_secret() -> None:
    order = fulfilled_order()
    assert order_confirmation_send(order_pk=order.pk) is True
    (message,) = mail.outbox
    assert message.subject == f"Your order {order.number} is confirmed"
    assert message.to == [order.email]
    assert "Analytical Engine poster" in message.body
    assert "£42.00" in message.body
    assert f"/orders/{order.public_token}/" in message.body
    for secret in ("sk_test", "whsec_", "4242"):
        assert secret not in message.body


def test_sending_twice_sends_once() -> None:
    order = fulfilled_order()
    assert order_confirmation_send(order_pk=order.pk) is True
    assert order_confirmation_send(order_pk=order.pk) is False
    assert len(mail.outbox) == 1


def test_an_order_not_fulfilled_or_not_there_gets_no_email() -> None:
    order = OrderFactory(status=Order.Status.PAYMENT_FAILED)
    assert order_confirmation_send(order_pk=order.pk) is False
    assert order_confirmation_send(order_pk=order.pk + 1000) is False
    assert order_confirmation_send(order_pk=-1) is False
    assert send_confirmations.apply().get() == 0
    assert mail.outbox == []


def test_a_failed_send_releases_the_claim_and_the_retry_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    order = fulfilled_order()

    def refuse(*args: Any, **kwargs: Any) -> int:
        raise smtplib.SMTPServerDisconnected("mail server went away")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        order_confirmation_send(order_pk=order.pk)
    order.refresh_from_db()
    assert order.confirmation_sent_at is None
    monkeypatch.undo()
    assert order_confirmation_send(order_pk=order.pk) is True
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_email() -> None:
    order = fulfilled_order()
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        try:
            results.append(order_confirmation_send(order_pk=order.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1


def test_the_sweep_sends_what_the_queue_lost_once() -> None:
    lost = fulfilled_order(ago=timedelta(minutes=30))
    fresh = fulfilled_order()  # its own task is still on the way
    ancient = fulfilled_order(ago=timedelta(days=30))  # not mailed out of the blue
    sent = fulfilled_order(ago=timedelta(minutes=30), confirmation_sent_at=timezone.now())
    assert order_confirmation_send_missed() == 1
    assert order_confirmation_send_missed() == 0
    assert [m.to for m in mail.outbox] == [[lost.email]]
    for order in (fresh, ancient, sent):
        assert order.email not in mail.outbox[0].to


def refuse_mail_to(monkeypatch: pytest.MonkeyPatch, email: str) -> None:
    """The mail server refuses this one recipient and takes every other message."""
    original = mail.EmailMultiAlternatives.send

    def refuse(message: Any, *args: Any, **kwargs: Any) -> int:
        if message.to == [email]:
            raise smtplib.SMTPRecipientsRefused({email: (550, b"no")})
        return original(message, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", refuse)


def test_the_sweep_goes_on_past_a_refused_send(monkeypatch: pytest.MonkeyPatch) -> None:
    first = fulfilled_order(ago=timedelta(minutes=30))
    second = fulfilled_order(ago=timedelta(minutes=30))
    refuse_mail_to(monkeypatch, first.email)
    assert order_confirmation_send_missed() == 1
    assert [m.to for m in mail.outbox] == [[second.email]]
    first.refresh_from_db()
    assert first.confirmation_sent_at is None  # tried again on the next run


# ---------------------------------------------------------------------------- the drain


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per confirmation drain message that would go to the broker."""
    sent: list[None] = []
    monkeypatch.setattr(emails, "order_confirmations_drain_publish", lambda: sent.append(None))
    return sent


def fulfill_and_commit(order: Order | None = None) -> Order:
    order = order or OrderFactory(status=Order.Status.PAID)
    OrderItemFactory(order=order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert order_fulfill(order=order, source="evt_test", locked=False) is True
    return order


def test_a_burst_of_fulfillments_wakes_one_drain_that_sends_each_email_once(published: list[None]) -> None:
    orders = [fulfill_and_commit() for _ in range(5)]
    assert published == [None]
    assert order_confirmations_drain() == 5
    assert order_confirmations_drain() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(o.email for o in orders)


def test_a_fulfillment_after_the_drain_started_wakes_the_next_one(published: list[None]) -> None:
    fulfill_and_commit()
    order_confirmations_drain()
    late = fulfill_and_commit()
    assert len(published) == 2
    order_confirmations_drain()
    assert [m.to for m in mail.outbox][-1] == [late.email]


def test_the_drain_leaves_old_and_confirmed_orders_and_hands_over_at_its_limit(published: list[None]) -> None:
    ancient = fulfilled_order()
    Order.objects.filter(pk=ancient.pk).update(fulfilled_at=timezone.now() - timedelta(days=30))
    fulfilled_order(confirmation_sent_at=timezone.now())
    due = [fulfilled_order() for _ in range(3)]
    assert order_confirmations_drain(limit=2) == 2
    assert published == [None]  # the hand-over
    assert order_confirmations_drain(limit=2) == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(o.email for o in due)


def test_the_drain_goes_on_past_a_refused_send(
    published: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = fulfilled_order(), fulfilled_order()
    refuse_mail_to(monkeypatch, first.email)
    assert order_confirmations_drain() == 1
    assert [m.to for m in mail.outbox] == [[second.email]]
    first.refresh_from_db()
    assert first.confirmation_sent_at is None  # the sweep tries again


def test_a_drain_message_lost_with_a_killed_worker_is_woken_again_by_the_sweep(published: list[None]) -> None:
    # The worker added the wake-up row and was killed before it published: later fulfillments
    # count on a drain that will never run.
    wakeup_claim(name=emails.CONFIRMATIONS_WAKEUP)
    late = fulfill_and_commit()
    assert published == []
    assert wakeups_sweep() == []  # a drain may still be on its way
    DrainWakeup.objects.update(created_at=timezone.now() - WAKEUP_LOST_AFTER - timedelta(seconds=1))
    assert wakeups_sweep() == [emails.CONFIRMATIONS_WAKEUP]
    assert published == [None]
    order_confirmations_drain()
    assert [m.to for m in mail.outbox] == [[late.email]]


def test_a_drain_whose_every_send_is_refused_does_not_wake_another(
    published: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):
        fulfilled_order()

    def down(*args: Any, **kwargs: Any) -> int:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", down)
    assert order_confirmations_drain(limit=2) == 0
    assert published == []  # no drain spinning on a mail server that is down
