"""The discrepancy services called directly: a case opened once with its alert, a difference the
check fixed itself recorded (closing the open case of it), and a case closed once its difference
has gone, each with what finance reads on it afterwards."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import TestCase

from payments.alerts import AlertKind
from reconciliation.models import Discrepancy, ReconciliationRun
from reconciliation.services.discrepancies import (
    discrepancy_close,
    discrepancy_open,
    discrepancy_record_fixed,
)
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def fields_of(case: Discrepancy) -> tuple[Any, ...]:
    case.refresh_from_db()
    return (case.kind, case.object_id, case.status, case.detail, case.note, case.order, case.run)


def test_a_case_is_opened_once_and_alerts_once_and_a_quiet_one_not_at_all(alerts_sent: list[Any]) -> None:
    # given
    order = OrderFactory()
    run = ReconciliationRun.objects.create(kind=ReconciliationRun.Kind.LEDGER)

    # when: opened twice, and another kind without an alert
    with TestCase.captureOnCommitCallbacks(execute=True):
        case, opened = discrepancy_open(
            kind="amount_mismatch",
            object_id="ch_1",
            detail="ch_1: Stripe 4000 gbp, ours 4200",
            order=order,
            run=run,
        )
        again, opened_again = discrepancy_open(
            kind="amount_mismatch", object_id="ch_1", detail="other", order=order
        )
        quiet, quiet_opened = discrepancy_open(
            kind="in_flight", object_id="ch_1", detail="pending", alert=False
        )

    # then
    assert (opened, opened_again, quiet_opened) == (True, False, True)
    assert again == case and quiet != case
    assert fields_of(case) == (
        "amount_mismatch",
        "ch_1",
        "open",
        "ch_1: Stripe 4000 gbp, ours 4200",
        "",
        order,
        run,
    )
    assert fields_of(quiet) == ("in_flight", "ch_1", "open", "pending", "", None, None)
    assert alerts_sent == [
        {
            "kind": AlertKind.DISCREPANCY_OPENED,
            "message": f"Ledger discrepancy amount_mismatch on ch_1 ({order.number})",
            "ids": {
                "discrepancy": case.pk,
                "kind": "amount_mismatch",
                "object": "ch_1",
                "order": order.number,
            },
        }
    ]


def test_a_fix_of_a_difference_with_an_open_case_closes_that_case_with_what_was_done() -> None:
    # given: the case opened by an earlier run
    case, _ = discrepancy_open(
        kind="missing_local", object_id="re_1", detail="re_1: seen at Stripe", alert=False
    )
    other, _ = discrepancy_open(
        kind="missing_local", object_id="re_2", detail="re_2: seen at Stripe", alert=False
    )
    pending, _ = discrepancy_open(kind="in_flight", object_id="re_1", detail="re_1: pending", alert=False)
    run = ReconciliationRun.objects.create(kind=ReconciliationRun.Kind.LEDGER)

    # when
    fixed = discrepancy_record_fixed(
        kind="missing_local", object_id="re_1", detail="re_1: succeeded at Stripe, 1500; mirrored", run=run
    )

    # then: the same case, fixed, with the fix as its note; the case found first keeps its detail
    assert fixed.pk == case.pk
    assert fields_of(case) == (
        "missing_local",
        "re_1",
        "auto_fixed",
        "re_1: seen at Stripe",
        "re_1: succeeded at Stripe, 1500; mirrored",
        None,
        None,
    )
    assert case.resolved_at is not None
    assert Discrepancy.objects.count() == 3
    assert fields_of(other)[2] == "open" and other.resolved_at is None
    assert fields_of(pending)[2] == "open" and pending.resolved_at is None


def test_a_fix_of_a_difference_no_case_was_open_for_is_recorded_as_fixed() -> None:
    order = OrderFactory()
    run = ReconciliationRun.objects.create(kind=ReconciliationRun.Kind.LEDGER)
    resolved, _ = discrepancy_open(kind="missing_local", object_id="ch_9", detail="earlier", alert=False)
    Discrepancy.objects.filter(pk=resolved.pk).update(status="resolved", resolved_at=resolved.created_at)

    fixed = discrepancy_record_fixed(
        kind="missing_local", object_id="ch_9", detail="ch_9: applied (ORD-1)", order=order, run=run
    )

    assert fixed.pk != resolved.pk
    assert fields_of(fixed) == (
        "missing_local",
        "ch_9",
        "auto_fixed",
        "ch_9: applied (ORD-1)",
        "",
        order,
        run,
    )
    assert fixed.resolved_at is not None
    assert fields_of(resolved)[2] == "resolved"


def test_a_case_whose_difference_has_gone_is_closed_with_a_note_and_a_time() -> None:
    # given: open cases of two kinds on one object, and of one of them on another
    case, _ = discrepancy_open(
        kind="status_mismatch", object_id="dp_1", detail="dp_1: won at Stripe", alert=False
    )
    amount, _ = discrepancy_open(
        kind="amount_mismatch", object_id="dp_1", detail="dp_1: Stripe 3000", alert=False
    )
    elsewhere, _ = discrepancy_open(
        kind="status_mismatch", object_id="dp_2", detail="dp_2: lost", alert=False
    )
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    Discrepancy.objects.filter(pk=case.pk).update(updated_at=long_ago)

    # when
    closed = discrepancy_close(kind="status_mismatch", object_id="dp_1", note="no longer differs from Stripe")
    closed_again = discrepancy_close(kind="status_mismatch", object_id="dp_1", note="again")

    # then
    assert (closed, closed_again) == (1, 0)
    assert fields_of(case) == (
        "status_mismatch",
        "dp_1",
        "auto_fixed",
        "dp_1: won at Stripe",
        "no longer differs from Stripe",
        None,
        None,
    )
    assert case.resolved_at is not None and case.updated_at > long_ago
    assert fields_of(amount)[2:5] == ("open", "dp_1: Stripe 3000", "")
    assert fields_of(elsewhere)[2:5] == ("open", "dp_2: lost", "")
