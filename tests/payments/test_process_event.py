"""The worker's side: lock, skip if done, dispatch, record; retry transient errors with backoff;
dead-letter after the last attempt or at once for a bug; staff replay."""

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.test import TestCase

from orders.models import Fulfillment, Order
from payments import handlers, tasks
from payments.models import StaffAction, StripeEvent
from payments.services.events.process import stripe_event_process
from payments.services.events.replay import stripe_event_replay
from payments.services.events.retry import MAX_ATTEMPTS, RETRY_BACKOFF_MAX_SECONDS, retry_countdown
from payments.services.objects import NOTE_NO_ORDER
from payments.stripe_gateway import StripeUnavailable
from tests.factories import OrderFactory, event, payment_intent, stored_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("alert_emails")]

Process = Callable[..., StripeEvent]


def test_a_succeeded_payment_is_processed_and_fulfilled(process: Process) -> None:
    order = OrderFactory()
    row = process(event("payment_intent.succeeded", payment_intent(order)))
    order.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.attempts == 1
    assert row.processed_at is not None
    assert order.status == Order.Status.FULFILLED
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_processing_the_same_row_twice_has_one_effect(process: Process) -> None:
    order = OrderFactory()
    row = process(event("payment_intent.succeeded", payment_intent(order)))
    assert stripe_event_process(event_pk=row.pk) == StripeEvent.Status.PROCESSED
    row.refresh_from_db()
    assert row.attempts == 1
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_an_unhandled_event_type_is_stored_and_marked_ignored(process: Process) -> None:
    row = process(event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert row.status == StripeEvent.Status.IGNORED


def test_an_event_for_no_order_of_ours_is_ignored_with_a_note(process: Process) -> None:
    stranger = OrderFactory.build(pk=987654, payment_intent_id="pi_not_ours")
    obj = payment_intent(stranger, metadata={})
    row = process(event("payment_intent.succeeded", obj))
    assert row.status == StripeEvent.Status.IGNORED
    assert row.last_error == NOTE_NO_ORDER


def test_a_transient_error_is_recorded_and_raised_for_a_retry(process: Process) -> None:
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    failing = mock.Mock(side_effect=StripeUnavailable("Stripe did not answer payment_intent.retrieve"))
    with (
        mock.patch.dict(handlers.HANDLERS, {"payment_intent.succeeded": failing}),
        pytest.raises(StripeUnavailable),
    ):
        stripe_event_process(event_pk=row.pk)
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.RETRYING
    assert row.attempts == 1
    assert row.last_error.startswith("StripeUnavailable: Stripe did not answer")


def test_a_handler_that_fails_half_way_leaves_nothing_written(process: Process) -> None:
    order = OrderFactory()

    def half_way(event: StripeEvent) -> None:
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELED)
        raise StripeUnavailable("Stripe did not answer")

    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    with (
        mock.patch.dict(handlers.HANDLERS, {"payment_intent.succeeded": half_way}),
        pytest.raises(StripeUnavailable),
    ):
        stripe_event_process(event_pk=row.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_the_task_retries_transient_errors_then_dead_letters_and_alerts(queued: list[None]) -> None:
    # given a handler that never gets an answer from Stripe
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    failing = mock.Mock(side_effect=StripeUnavailable("Stripe did not answer payment_intent.retrieve"))
    # when the task runs (eagerly: each retry runs at once)
    with mock.patch.dict(handlers.HANDLERS, {"payment_intent.succeeded": failing}):
        tasks.process_stripe_event.apply(args=(row.pk,))
    # then
    row.refresh_from_db()
    assert failing.call_count == MAX_ATTEMPTS
    assert row.status == StripeEvent.Status.DEAD
    assert row.attempts == MAX_ATTEMPTS
    assert len(mail.outbox) == 1
    assert row.stripe_id in mail.outbox[0].subject
    assert "dead-lettered" in mail.outbox[0].subject


def test_retries_wait_longer_each_time_with_jitter(
    queued: list[None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (Late acks are shown by a worker killed half-way: tests/payments/test_faults_e2e.py.)
    # given three events whose handler never gets an answer from Stripe, and the waits the
    # task asks the broker for before each retry
    task = tasks.process_stripe_event
    waits: list[list[int]] = []
    real_retry = task.retry

    def retry(*args: Any, **kwargs: Any) -> Any:
        waits[-1].append(kwargs["countdown"])
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(task, "retry", retry)
    failing = mock.Mock(side_effect=StripeUnavailable("Stripe did not answer payment_intent.retrieve"))
    with mock.patch.dict(handlers.HANDLERS, {"payment_intent.succeeded": failing}):
        for _ in range(3):
            waits.append([])
            row = stored_event(event("payment_intent.succeeded", payment_intent(OrderFactory())))
            task.apply(args=(row.pk,))
    # then each event waited before each of its retries, within a window that doubles
    # (exponential backoff, 1 s first) and is never longer than the cap
    assert [len(each) for each in waits] == [MAX_ATTEMPTS - 1] * 3
    for each in waits:
        for retry_number, wait in enumerate(each):
            assert 0 <= wait <= min(2**retry_number, RETRY_BACKOFF_MAX_SECONDS)
    # and the waits are drawn at random inside the window (full jitter), so events that failed
    # together do not come back together: not every wait is the window's end, and the late
    # retries are not all short
    assert any(wait < 2**n for each in waits for n, wait in enumerate(each))
    assert max(wait for each in waits for wait in each[4:]) > 2


def test_the_drain_retry_wait_is_capped() -> None:
    assert all(0 <= retry_countdown(retries) <= RETRY_BACKOFF_MAX_SECONDS for retries in range(30))
    assert retry_countdown(0) <= 1


def test_a_bug_dead_letters_at_once_with_no_secret_in_the_error(process: Process) -> None:
    order = OrderFactory()

    def buggy(event: StripeEvent) -> None:
        raise KeyError("sk_test_51SECRETkey used by whsec_abcdef for 4242 4242 4242 4242")

    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    with mock.patch.dict(handlers.HANDLERS, {"payment_intent.succeeded": buggy}):
        assert stripe_event_process(event_pk=row.pk) == StripeEvent.Status.DEAD
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.DEAD
    assert row.attempts == 1
    assert row.last_error.startswith("KeyError")
    assert "sk_test_51SECRETkey" not in row.last_error
    assert "whsec_abcdef" not in row.last_error
    assert "4242 4242 4242 4242" not in row.last_error
    assert len(mail.outbox) == 1


def test_staff_replay_puts_a_dead_event_back_and_it_is_processed(
    process: Process, queued: list[None]
) -> None:
    # given a dead event (the bug is fixed since)
    order = OrderFactory()
    row = stored_event(
        event("payment_intent.succeeded", payment_intent(order)),
        status=StripeEvent.Status.DEAD,
        attempts=8,
        last_error="KeyError: x",
    )
    staff = mock.Mock(is_authenticated=False)
    # when staff replay it
    with TestCase.captureOnCommitCallbacks(execute=True):
        stripe_event_replay(events=[row], actor=staff)
    row.refresh_from_db()
    # then it is pending again, queued, audited, and processing it fulfills the order
    assert row.status == StripeEvent.Status.PENDING
    assert row.source == StripeEvent.Source.REPLAY
    assert row.attempts == 0
    assert queued == [None]
    assert StaffAction.objects.get().target == row.stripe_id
    assert process(row).status == StripeEvent.Status.PROCESSED
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_a_missing_row_is_reported_not_raised() -> None:
    assert stripe_event_process(event_pk=987654321) == "missing"
