"""The deadline warnings: 72 h and 24 h before `due_by`, and past due, once each."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from disputes.models import (
    RESPONDABLE_STATUSES,
    DeadlineWarning,
    Dispute,
)
from payments.alerts import AlertKind, alert_send

WARNING_THRESHOLDS: tuple[tuple[str, int], ...] = (
    (DeadlineWarning.Threshold.HOURS_24, 24),
    (DeadlineWarning.Threshold.HOURS_72, 72),
)
# The loosest threshold: a deadline further away has nothing to warn about yet.
WARNING_HORIZON = timedelta(hours=max(hours for _, hours in WARNING_THRESHOLDS))


def dispute_deadlines_check(*, now: datetime | None = None) -> int:
    """Warn 72 h and 24 h before `due_by` for every dispute without a submission, and flag the
    past-due ones: one warning per dispute and threshold (a unique row), whatever how often
    this runs. Returns the number of warnings sent."""
    now = now or timezone.now()
    with_order = Dispute.objects.select_related("order")  # pragma: no mutate: it only saves queries
    due = (
        with_order.filter(
            status__in=RESPONDABLE_STATUSES,
            submission_count=0,
            submitted_at__isnull=True,
            submit_claimed_at__isnull=True,
        )
        # This only narrows the scan (NULL is never <=): the loop skips a deadline further away.
        .filter(evidence_due_by__lte=now + WARNING_HORIZON)
        .order_by("evidence_due_by")
    )
    sent = 0
    for dispute in due.iterator():
        assert dispute.evidence_due_by is not None
        left = dispute.evidence_due_by - now
        hours_left = int(left.total_seconds() // 3600)
        if left <= timedelta(0):
            crossed: list[str] = [DeadlineWarning.Threshold.PAST_DUE]
        else:
            crossed = [name for name, hours in WARNING_THRESHOLDS if left <= timedelta(hours=hours)]
        new = []
        for threshold in crossed:
            _, made = DeadlineWarning.objects.get_or_create(
                dispute=dispute, threshold=threshold, defaults={"hours_left": hours_left}
            )
            if made:
                new.append(threshold)
        if not new:
            continue
        # The tightest new threshold speaks; a looser one crossed at the same time stays quiet.
        tightest = crossed[0]
        if tightest not in new:
            continue
        number = dispute.order.number if dispute.order else "(no order)"
        ids: dict[str, str | int | None] = {
            "dispute": dispute.stripe_id,
            "order": number,
            "hours_left": hours_left,
        }
        if tightest == DeadlineWarning.Threshold.PAST_DUE:
            alert_send(
                kind=AlertKind.DISPUTE_PAST_DUE,
                message=f"Dispute {dispute.stripe_id} on order {number} is past its evidence deadline "
                "with nothing submitted",
                ids=ids,
            )
        else:
            alert_send(
                kind=AlertKind.DISPUTE_DEADLINE,
                message=f"Dispute {dispute.stripe_id} on order {number}: evidence due in {hours_left} h, "
                "nothing submitted yet",
                ids=ids,
            )
        sent += 1
    return sent
