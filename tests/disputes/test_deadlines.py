"""The deadline job: a warning 72 h and 24 h before `due_by` for every dispute without a
submission, one each however often it runs, and a flag once the deadline has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import PeriodicTask

from disputes.models import DeadlineWarning, Dispute
from disputes.services import dispute_deadlines_check, dispute_sync
from tests.disputes.factories import DAY, NOW, ChargeFactory, dispute_object, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _alerts(alert_settings: Any) -> None:
    pass


def opened(**fields: Any) -> Dispute:
    obj = dispute_object(ChargeFactory(order=paid_order()), **fields)
    return dispute_sync(obj=obj, seen_at=NOW - 50).dispute


def subjects() -> list[str]:
    return [m.subject for m in mail.outbox]


def test_migrating_a_fresh_database_schedules_the_job_every_15_minutes() -> None:
    # given a database without it (transactional tests elsewhere flush migration data)
    PeriodicTask.objects.filter(task__startswith="disputes.").delete()
    # when the data migration runs, as `migrate` runs it (twice: idempotent)
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(("disputes", "0003_periodic_tasks"))
    operation = executor.loader.get_migration("disputes", "0003_periodic_tasks").operations[0]
    operation.code(state.apps, None)  # type: ignore[attr-defined]
    operation.code(state.apps, None)  # type: ignore[attr-defined]
    state = executor.loader.project_state(("disputes", "0005_evidence_sweep_schedule"))
    executor.loader.get_migration("disputes", "0005_evidence_sweep_schedule").operations[0].code(  # type: ignore[attr-defined]
        state.apps, None
    )
    # then
    sweep = PeriodicTask.objects.get(task="disputes.sweep_evidence")
    assert sweep.enabled and sweep.interval is not None and sweep.interval.every == 600
    task = PeriodicTask.objects.get(task="disputes.warn_deadlines")
    assert task.enabled and task.interval is not None
    assert (task.interval.every, task.interval.period) == (900, "seconds")


def test_one_warning_at_72_hours_one_at_24_and_a_flag_when_past_due() -> None:
    dispute = opened(due_in=5 * DAY)
    number = dispute.order.number  # type: ignore[union-attr]
    due = dispute.evidence_due_by
    assert due is not None
    mail.outbox.clear()

    # five days before: nothing
    assert dispute_deadlines_check(now=due - timedelta(days=5)) == 0
    # the clock moves past 72 h before the deadline: one warning, however often the job runs
    assert dispute_deadlines_check(now=due - timedelta(hours=71, minutes=30)) == 1
    assert dispute_deadlines_check(now=due - timedelta(hours=71, minutes=15)) == 0
    assert dispute_deadlines_check(now=due - timedelta(hours=30)) == 0
    # past 24 h: one more
    assert dispute_deadlines_check(now=due - timedelta(hours=23, minutes=50)) == 1
    assert dispute_deadlines_check(now=due - timedelta(hours=2)) == 0
    # past the deadline: flagged once
    assert dispute_deadlines_check(now=due + timedelta(minutes=5)) == 1
    assert dispute_deadlines_check(now=due + timedelta(hours=5)) == 0

    said = f"[payments] Dispute {dispute.stripe_id} on order {number}"
    assert subjects() == [
        f"{said}: evidence due in 71 h, nothing submitted yet",
        f"{said}: evidence due in 23 h, nothing submitted yet",
        f"{said} is past its evidence deadline with nothing submitted",
    ]
    assert set(DeadlineWarning.objects.filter(dispute=dispute).values_list("threshold", flat=True)) == {
        "72h",
        "24h",
        "past_due",
    }


def test_a_dispute_first_seen_inside_24_hours_gets_one_warning_not_two() -> None:
    dispute = opened(due_in=20 * 3600)
    mail.outbox.clear()

    assert dispute_deadlines_check(now=dispute.evidence_due_by - timedelta(hours=20)) == 1  # type: ignore[operator]
    assert dispute_deadlines_check(now=dispute.evidence_due_by - timedelta(hours=19)) == 0  # type: ignore[operator]

    assert len(subjects()) == 1 and "evidence due in 20 h" in subjects()[0]


def test_submitted_closed_and_no_response_disputes_are_not_warned() -> None:
    submitted = opened(due_in=DAY, submission_count=1, status="under_review")
    opened(due_in=DAY, status="won")
    opened(due_in=0)  # due_by 0: the bank takes no response
    claimed = opened(due_in=DAY)
    Dispute.objects.filter(pk=claimed.pk).update(submit_claimed_at=submitted.created_at)
    mail.outbox.clear()

    assert dispute_deadlines_check(now=submitted.evidence_due_by - timedelta(hours=1)) == 0  # type: ignore[operator]
    assert subjects() == []


def test_the_scheduled_task_name_is_registered() -> None:
    from config.celery import app

    app.loader.import_default_modules()
    assert "disputes.warn_deadlines" in app.tasks
    assert "disputes.prepare_evidence" in app.tasks
    assert "disputes.sweep_evidence" in app.tasks


def test_one_run_warns_every_dispute_due_with_its_ids_and_the_hours_left() -> None:
    # given, seen from a moment `at`: disputes due 5 minutes ago, right now (one Stripe knows no
    # order for), in 20 h and in exactly 72 h; and some that are not warned
    at = NOW + 10 * DAY
    late = opened(due_in=10 * DAY - 300)
    orderless = dispute_sync(
        obj=dispute_object(
            ChargeFactory.build(
                order=None, stripe_id="ch_unknown", amount=500, amount_captured=500, currency="usd"
            ),
            due_in=10 * DAY,
        ),
        seen_at=NOW - 50,
    ).dispute
    tomorrow = opened(due_in=10 * DAY + 20 * 3600)
    in_72_hours = opened(due_in=10 * DAY + 72 * 3600)
    opened(due_in=10 * DAY + 73 * 3600)
    opened(due_in=10 * DAY + 3600, submission_count=1)  # submitted in the Dashboard, status not moved yet
    ours = opened(due_in=10 * DAY + 3600)
    Dispute.objects.filter(pk=ours.pk).update(submitted_at=ours.created_at)  # submitted by us just now
    mail.outbox.clear()

    # when the job runs
    sent = dispute_deadlines_check(now=datetime.fromtimestamp(at, tz=UTC))

    # then each dispute due gets one alert, soonest first, with the ids in its body
    assert sent == 4

    def alert(dispute: Dispute, text: str, hours_left: int) -> tuple[str, str]:
        number = dispute.order.number if dispute.order else "(no order)"
        message = f"Dispute {dispute.stripe_id} on order {number}{text}"
        return (
            f"[payments] {message}",
            f"{message}\n\ndispute: {dispute.stripe_id}\norder: {number}\nhours_left: {hours_left}",
        )

    past_due = " is past its evidence deadline with nothing submitted"
    assert [(m.subject, m.body) for m in mail.outbox] == [
        alert(late, past_due, -1),
        alert(orderless, past_due, 0),
        alert(tomorrow, ": evidence due in 20 h, nothing submitted yet", 20),
        alert(in_72_hours, ": evidence due in 72 h, nothing submitted yet", 72),
    ]
    assert orderless.order is None


def test_a_dispute_with_nothing_new_to_say_does_not_hold_back_the_next_one() -> None:
    # given disputes already warned, one whose tightest threshold was warned without the looser
    # one (warnings from before the 72 h threshold existed), and one not warned yet
    at = NOW + 10 * DAY
    opened(due_in=10 * DAY - 300)
    opened(due_in=10 * DAY + 3600)
    dispute_deadlines_check(now=datetime.fromtimestamp(at, tz=UTC))
    older = opened(due_in=10 * DAY + 10 * 3600)
    DeadlineWarning.objects.create(dispute=older, threshold=DeadlineWarning.Threshold.HOURS_24, hours_left=30)
    fresh = opened(due_in=10 * DAY + 30 * 3600)
    mail.outbox.clear()

    # when the job runs again
    sent = dispute_deadlines_check(now=datetime.fromtimestamp(at, tz=UTC))

    # then only the new warning is sent, the looser one crossed late stays quiet
    assert sent == 1
    assert subjects() == [
        f"[payments] Dispute {fresh.stripe_id} on order {fresh.order.number}: "  # type: ignore[union-attr]
        "evidence due in 30 h, nothing submitted yet"
    ]
    assert DeadlineWarning.objects.filter(
        dispute=older, threshold=DeadlineWarning.Threshold.HOURS_72
    ).exists()
