"""Nothing lost: the re-queue job picks up rows whose broker message was lost, the recovery job
and command pull the events we never received from GET /v1/events, and the schedules exist in a
fresh database."""

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TestCase
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from orders.models import Fulfillment, Order
from payments import stripe_gateway
from payments.management.commands.recover_stripe_events import parse_window
from payments.models import EventCheckpoint, StripeEvent
from payments.schedules import PERIODIC_TASKS
from payments.services.events.drain import stripe_events_drain
from payments.services.events.recovery import (
    CHECKPOINT_NAME,
    RECOVERY_OVERLAP,
    REQUEUE_AFTER,
    stripe_event_recover,
    stripe_event_requeue_stale,
)
from tests.factories import OrderFactory, event, payment_intent, stored_event

pytestmark = pytest.mark.django_db


def process_all(process: Callable[..., StripeEvent]) -> None:
    for row in StripeEvent.objects.filter(status=StripeEvent.Status.PENDING).order_by("?"):
        process(row)


# ---------------------------------------------------------------------------- re-queue


def test_rows_left_pending_are_queued_again_and_touched(queued: list[None]) -> None:
    order = OrderFactory()
    stale = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    retrying = stored_event(event("charge.succeeded", {"id": "ch_1", "object": "charge"}), status="retrying")
    fresh = stored_event(event("payment_intent.processing", payment_intent(order, status="processing")))
    done = stored_event(event("charge.failed", {"id": "ch_2", "object": "charge"}), status="processed")
    dead = stored_event(event("charge.failed", {"id": "ch_3", "object": "charge"}), status="dead")
    long_ago = timezone.now() - REQUEUE_AFTER - timedelta(seconds=1)
    StripeEvent.objects.filter(pk__in=[stale.pk, retrying.pk, done.pk, dead.pk]).update(updated_at=long_ago)

    assert stripe_event_requeue_stale() == 2
    assert queued == [None]  # one drain for all of them
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert (statuses[stale.pk], statuses[retrying.pk]) == ("pending", "pending")
    assert (statuses[done.pk], statuses[dead.pk]) == ("processed", "dead")
    assert StripeEvent.objects.get(pk=fresh.pk).updated_at == fresh.updated_at  # left alone
    # touched: the next run, a minute later, leaves them alone
    assert stripe_event_requeue_stale() == 0


def test_an_event_whose_message_was_lost_is_processed_after_the_re_queue(
    queued: list[None], process: Callable[..., StripeEvent]
) -> None:
    order = OrderFactory()
    row = stored_event(event("payment_intent.succeeded", payment_intent(order)))
    StripeEvent.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    stripe_event_requeue_stale()
    assert queued == [None]
    stripe_events_drain()
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


# ---------------------------------------------------------------------------- recovery


def test_missed_events_are_recovered_from_the_checkpoint_and_processed(
    emulator: Any, settings: Any, process: Callable[..., StripeEvent], pay: Callable[..., str]
) -> None:
    # given paid and declined orders whose webhooks never reached us
    settings.ALERT_EMAILS = ["ops@example.com"]
    paid = [OrderFactory(payment_intent_id=None) for _ in range(3)]
    declined = OrderFactory(payment_intent_id=None)
    for order in paid:
        pay(order)
    pay(declined, card="pm_card_chargeDeclined")
    # when the recovery job runs
    with TestCase.captureOnCommitCallbacks(execute=True):
        summary = stripe_event_recover()
    process_all(process)
    # then every event is stored once, from recovery, and the books are right
    assert summary.checked == StripeEvent.objects.count() > 0
    assert len(summary.recovered) == summary.checked
    assert set(StripeEvent.objects.values_list("source", flat=True)) == {StripeEvent.Source.RECOVERY}
    for order in paid:
        order.refresh_from_db()
        assert order.status == Order.Status.FULFILLED
    declined.refresh_from_db()
    assert declined.status == Order.Status.PAYMENT_FAILED
    assert not Fulfillment.objects.filter(order=declined).exists()
    assert EventCheckpoint.objects.get().last_created > 0
    assert any("Recovered" in message.subject for message in mail.outbox)
    # and a second run finds nothing new
    again = stripe_event_recover()
    assert again.recovered == []
    assert again.already_had == summary.checked


def test_recovery_reads_from_the_checkpoint_minus_the_overlap(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    EventCheckpoint.objects.create(name=CHECKPOINT_NAME, last_created=1_800_000_000)
    seen: list[dict[str, Any]] = []

    def event_list(*, params: dict[str, Any]) -> Any:
        seen.append(params)
        return iter(())

    monkeypatch.setattr(stripe_gateway, "event_list", event_list)
    stripe_event_recover()
    overlap = int(RECOVERY_OVERLAP.total_seconds())
    assert seen[0]["created"] == {"gte": 1_800_000_000 - overlap}


def test_the_command_recovers_a_window_with_progress_and_a_summary(
    emulator: Any, queued: list[None], pay: Callable[..., str]
) -> None:
    order = OrderFactory(payment_intent_id=None)
    pay(order)
    first_id = next(iter(emulator.client().v1.events.list().auto_paging_iter())).id
    stored_event({**event("payment_intent.created", payment_intent(order)), "id": first_id})
    out, err = StringIO(), StringIO()

    call_command("recover_stripe_events", "--since", "3d", stdout=out, stderr=err)

    total = len(list(emulator.client().v1.events.list().auto_paging_iter()))
    assert out.getvalue().strip() == f"checked {total}, recovered {total - 1}, already had 1"
    assert "checked" in err.getvalue() and "[" in err.getvalue()
    assert StripeEvent.objects.count() == total


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("3d", timedelta(days=3))],
)
def test_windows_are_parsed(text: str, expected: timedelta) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize("text", ["3", "3w", "-1d", "31d", ""])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(CommandError):
        parse_window(text)


# ---------------------------------------------------------------------------- schedules


def test_migrating_a_fresh_database_creates_the_schedules() -> None:
    # given a database without them (transactional tests elsewhere flush migration data)
    PeriodicTask.objects.all().delete()
    # when the data migration runs, as `migrate` runs it on a fresh database (twice: idempotent)
    executor = MigrationExecutor(connection)
    for name in ("0002_periodic_tasks", "0003_confirmation_sweep_schedule", "0010_wakeup_sweep_schedule"):
        state = executor.loader.project_state(("payments", name))
        operation = executor.loader.get_migration("payments", name).operations[0]
        operation.code(state.apps, None)
        operation.code(state.apps, None)
    # then
    tasks = {task.task: task for task in PeriodicTask.objects.filter(enabled=True)}
    assert len(tasks) == PeriodicTask.objects.count() == 4
    assert tasks["payments.requeue_stale_stripe_events"].interval.every == 60
    assert tasks["payments.recover_missed_stripe_events"].interval.every == 300
    assert tasks["orders.send_missed_confirmations"].interval.every == 600
    assert tasks["core.sweep_wakeups"].interval.every == 60


def test_the_scheduled_task_names_are_registered() -> None:
    from config.celery import app

    app.loader.import_default_modules()
    assert {spec["task"] for spec in PERIODIC_TASKS} <= set(app.tasks)
