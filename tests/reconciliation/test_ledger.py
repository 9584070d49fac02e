"""The ledger check: Stripe's payouts, charges, refunds and disputes of a window against ours.
Safe differences are fixed through the webhook's own services and recorded as auto-fixed; the
rest stay open, one case per kind and object, so a second run opens nothing new."""

import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TestCase
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from billing.models import Invoice, Subscription
from billing.services import billing_refresh
from orders.models import Fulfillment, Order
from payments import stripe_gateway
from payments.alerts import AlertKind
from payments.models import Charge, Refund
from reconciliation import tasks
from reconciliation.management.commands.reconcile_ledger import parse_window
from reconciliation.models import Discrepancy, Payout, ReconciliationRun
from reconciliation.services.ledger import ledger_check
from tests.factories import OrderFactory
from tests.reconciliation.factories import (
    ChargeFactory,
    DisputeFactory,
    FakeStripe,
    RefundFactory,
    at,
    capture_reconciliations,
    charge_txn,
    stripe_charge,
    stripe_dispute,
    stripe_invoice,
    stripe_payout,
    stripe_refund,
    stripe_subscription,
)

pytestmark = pytest.mark.django_db

WINDOW = timedelta(days=2)


def check_twice() -> tuple[Any, Any]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        first = ledger_check(window=WINDOW)
    with TestCase.captureOnCommitCallbacks(execute=True):
        second = ledger_check(window=WINDOW)
    return first, second


def cases(**filters: Any) -> list[tuple[str, str, str]]:
    return sorted(Discrepancy.objects.filter(**filters).values_list("kind", "object_id", "status"))


def test_a_paid_charge_whose_event_never_came_is_applied_and_recorded_as_auto_fixed(
    fake_stripe: FakeStripe, alerts_sent: list[Any]
) -> None:
    # given: Stripe took the money, we never heard
    order = OrderFactory(amount=4200)
    charge = stripe_charge(
        amount=4200, payment_intent=order.payment_intent_id, metadata={"order_id": str(order.pk)}
    )
    fake_stripe.charges.append(charge)

    # when
    first, second = check_twice()

    # then: paid and fulfilled once, through the webhook's own service
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.charge_id == charge["id"]
    assert list(Fulfillment.objects.filter(order=order).values_list("source", flat=True)) == [
        f"ledger:{charge['id']}"
    ]
    assert cases() == [("missing_local", charge["id"], "auto_fixed")]
    assert Discrepancy.objects.get().order == order
    assert (first.auto_fixed, second.auto_fixed, second.opened) == (1, 0, 0)
    assert not [a for a in alerts_sent if a["kind"] == AlertKind.DISCREPANCY_OPENED]


def test_a_refund_we_never_heard_of_is_mirrored_and_the_order_refunded(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    fake_stripe.charges.append(
        stripe_charge(id="ch_paid", amount=4200, payment_intent=order.payment_intent_id, amount_refunded=1500)
    )
    refund = stripe_refund(amount=1500, charge="ch_paid", payment_intent=order.payment_intent_id)
    fake_stripe.refunds.append(refund)

    check_twice()

    mirror = Refund.objects.get(stripe_id=refund["id"])
    assert (mirror.order, mirror.amount, mirror.status) == (order, 1500, "succeeded")
    order.refresh_from_db()
    assert order.amount_refunded == 1500 and order.status == Order.Status.PARTIALLY_REFUNDED
    assert cases() == [("missing_local", refund["id"], "auto_fixed")]


def test_a_refund_whose_success_we_missed_is_moved_forward(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    fake_stripe.charges.append(
        stripe_charge(id="ch_paid", amount=4200, payment_intent=order.payment_intent_id)
    )
    refund = stripe_refund(amount=4200, charge="ch_paid", payment_intent=order.payment_intent_id)
    fake_stripe.refunds.append(refund)
    Refund.objects.create(
        stripe_id=refund["id"],
        order=order,
        charge_id="ch_paid",
        amount=4200,
        currency="gbp",
        status="pending",
    )

    check_twice()

    assert Refund.objects.get(stripe_id=refund["id"]).status == "succeeded"
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert cases() == [("status_mismatch", refund["id"], "auto_fixed")]
    assert Discrepancy.objects.get().order == order


def test_a_charge_we_hold_that_stripe_does_not_is_missing_remote_once(
    fake_stripe: FakeStripe, alerts_sent: list[Any]
) -> None:
    ours = ChargeFactory(stripe_id="ch_only_ours")
    paid = OrderFactory(
        status=Order.Status.PAID, charge_id="ch_order_only", paid_at=at(int(time.time()) - 7200)
    )

    first, second = check_twice()

    assert cases() == [
        ("missing_remote", "ch_only_ours", "open"),
        ("missing_remote", "ch_order_only", "open"),
    ]
    assert {d.order for d in Discrepancy.objects.all()} == {ours.order, paid}
    assert (first.opened, second.opened) == (2, 0)
    opened = [a for a in alerts_sent if a["kind"] == AlertKind.DISCREPANCY_OPENED]
    assert sorted(a["ids"]["object"] for a in opened) == ["ch_only_ours", "ch_order_only"]
    for alert in opened:  # identifiers only (invariant 6)
        assert paid.email not in alert["message"] and paid.name not in alert["message"]


def test_amount_and_status_differences_stay_open_until_finance_resolves_them(fake_stripe: FakeStripe) -> None:
    short = ChargeFactory(amount=4200)
    failed_there = ChargeFactory(amount=1000)
    fake_stripe.charges += [
        stripe_charge(id=short.stripe_id, amount=4000),
        stripe_charge(id=failed_there.stripe_id, amount=1000, status="failed", paid=False),
    ]

    _, second = check_twice()

    assert cases() == sorted(
        [("amount_mismatch", short.stripe_id, "open"), ("status_mismatch", failed_there.stripe_id, "open")]
    )
    assert "Stripe 4000" in Discrepancy.objects.get(kind="amount_mismatch").detail
    assert second.opened == 0


def test_a_payment_still_pending_after_the_grace_period_is_in_flight_and_a_young_one_is_left_alone(
    fake_stripe: FakeStripe,
) -> None:
    stuck = stripe_charge(status="pending", paid=False, created=int(time.time()) - 3 * 3600)
    young = stripe_charge(status="pending", paid=False, created=int(time.time()) - 60)
    young_unknown = stripe_charge(created=int(time.time()) - 60)
    fake_stripe.charges += [stuck, young, young_unknown]

    result = ledger_check(window=WINDOW)

    assert cases() == [("in_flight", stuck["id"], "open")]
    assert result.too_young == 2


def test_an_order_charged_twice_is_a_duplicate(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_first")
    fake_stripe.charges += [
        stripe_charge(
            id="ch_first", amount=4200, metadata={"order_id": str(order.pk)}, created=int(time.time()) - 9000
        ),
        stripe_charge(id="ch_second", amount=4200, metadata={"order_id": str(order.pk)}),
    ]

    check_twice()

    assert cases(kind="duplicate") == [("duplicate", "ch_second", "open")]
    assert Discrepancy.objects.get(kind="duplicate").order == order


def test_disputes_we_do_not_mirror_or_whose_status_differs_are_reported_and_close_when_they_agree(
    fake_stripe: FakeStripe,
) -> None:
    charge = ChargeFactory()
    fake_stripe.charges.append(stripe_charge(id=charge.stripe_id, amount=charge.amount))
    unknown = stripe_dispute(charge=charge.stripe_id)
    mirrored = DisputeFactory(charge_id=charge.stripe_id, status="needs_response")
    moved = stripe_dispute(id=mirrored.stripe_id, charge=charge.stripe_id, status="under_review")
    fake_stripe.disputes += [unknown, moved]

    ledger_check(window=WINDOW)
    assert cases() == sorted(
        [("missing_local", unknown["id"], "open"), ("status_mismatch", mirrored.stripe_id, "open")]
    )
    assert Discrepancy.objects.get(kind="missing_local").order == charge.order

    # when the dispute mirror catches up, the next run closes its case
    mirrored.status = "under_review"
    mirrored.save()
    result = ledger_check(window=WINDOW)

    assert cases(object_id=mirrored.stripe_id) == [("status_mismatch", mirrored.stripe_id, "auto_fixed")]
    assert result.closed == 1


def test_a_payout_whose_webhooks_were_dropped_is_found_and_reconciled(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    charge = stripe_charge(id="ch_paid", amount=4200, payment_intent=order.payment_intent_id)
    fake_stripe.charges.append(charge)
    txn = charge_txn(charge, fee=150)
    obj = fake_stripe.add_payout(stripe_payout(amount=txn["net"]), [txn])

    result = ledger_check(window=WINDOW)

    payout = Payout.objects.get(stripe_id=obj["id"])
    assert payout.reconciled and payout.unexplained == 0
    assert payout.balance_transactions.get(type="charge").order == order
    assert result.payouts_reconciled == 1
    assert not Discrepancy.objects.exists()


def test_each_run_is_recorded_with_its_figures(fake_stripe: FakeStripe) -> None:
    # given: a charge only we hold, two too young to judge, a paid one whose event never came,
    # and one whose open amount case Stripe now agrees with
    ChargeFactory(stripe_id="ch_only_ours")
    fake_stripe.charges += [stripe_charge(created=int(time.time()) - 60) for _ in range(2)]
    order = OrderFactory(amount=4200)
    paid = stripe_charge(payment_intent=order.payment_intent_id, metadata={"order_id": str(order.pk)})
    fake_stripe.charges.append(paid)
    agreeing = ChargeFactory(amount=1500)
    fake_stripe.charges.append(stripe_charge(id=agreeing.stripe_id, amount=1500))
    Discrepancy.objects.create(kind="amount_mismatch", object_id=agreeing.stripe_id, detail="1400 before")
    now = timezone.now()

    # when
    result = ledger_check(window=WINDOW, now=now)

    # then: the run's record and the figures the command prints agree
    run = ReconciliationRun.objects.get()
    assert (run.kind, run.status) == ("ledger", "succeeded") and run.finished_at is not None
    assert run.summary == {
        "since": (now - WINDOW).isoformat(),
        "checked": 5,
        "opened": 1,
        "auto_fixed": 1,
        "closed": 1,
        "too_young": 2,
        "payouts_reconciled": 0,
        "kinds": {"missing_remote": 1},
    }
    assert str(result) == (
        "checked 5 objects: opened 1, auto-fixed 1, closed 1, left for later 2 (younger than the "
        "grace period), payouts reconciled 0"
    )
    assert Discrepancy.objects.get(kind="missing_remote").run == run


def test_a_run_that_stripe_stops_answering_is_recorded_as_failed_with_its_figures_so_far(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a payout listed, then Stripe stops answering before the charges
    fake_stripe.add_payout(stripe_payout(amount=100, status="in_transit"), [])

    def unavailable(**kwargs: Any) -> Any:
        raise stripe_gateway.StripeUnavailable("Stripe did not answer")

    monkeypatch.setattr(stripe_gateway, "charge_list", unavailable)
    now = timezone.now()

    # when
    with pytest.raises(stripe_gateway.StripeUnavailable):
        ledger_check(window=WINDOW, now=now)

    # then: the run says it failed, when, and how far it got
    run = ReconciliationRun.objects.get()
    assert (run.kind, run.status) == ("ledger", "failed") and run.finished_at is not None
    assert run.summary == {
        "since": (now - WINDOW).isoformat(),
        "checked": 1,
        "opened": 0,
        "auto_fixed": 0,
        "closed": 0,
        "too_young": 0,
        "payouts_reconciled": 0,
        "kinds": {},
    }


def test_reconcile_ledger_runs_the_check_for_the_window_given(fake_stripe: FakeStripe) -> None:
    ChargeFactory(stripe_id="ch_only_ours")
    out = StringIO()

    call_command("reconcile_ledger", "--since", "2d", stdout=out, stderr=StringIO())
    again = StringIO()
    call_command("reconcile_ledger", "--since", "2d", stdout=again, stderr=StringIO())

    assert "opened 1" in out.getvalue() and "opened 0" in again.getvalue()
    assert cases() == [("missing_remote", "ch_only_ours", "open")]


@pytest.mark.parametrize("text", ["2", "2w", "-1d", "0d", "401d", ""])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(CommandError):
        parse_window(text)


def test_the_nightly_task_runs_the_check(fake_stripe: FakeStripe) -> None:
    ChargeFactory(stripe_id="ch_only_ours")
    assert tasks.reconcile_ledger() == 1


def test_migrating_a_fresh_database_creates_the_reconciliation_schedules() -> None:
    PeriodicTask.objects.all().delete()
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(("reconciliation", "0003_periodic_tasks"))
    operation = executor.loader.get_migration("reconciliation", "0003_periodic_tasks").operations[0]
    operation.code(state.apps, None)
    operation.code(state.apps, None)

    scheduled = {task.task: task for task in PeriodicTask.objects.filter(enabled=True)}
    assert set(scheduled) == {"reconciliation.reconcile_ledger", "reconciliation.reconcile_pending_payouts"}
    nightly = scheduled["reconciliation.reconcile_ledger"].crontab
    assert nightly is not None and (nightly.hour, nightly.minute) == ("3", "15")
    assert scheduled["reconciliation.reconcile_pending_payouts"].interval.every == 3600  # type: ignore[union-attr]


def test_the_scheduled_task_names_are_registered() -> None:
    from config.celery import app

    app.loader.import_default_modules()
    for name in ("reconciliation.reconcile_ledger", "reconciliation.reconcile_pending_payouts"):
        assert name in app.tasks


def test_the_hourly_sweep_queues_every_paid_payout_not_reconciled(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciliation.services.payouts import payout_sync

    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)
    paid = payout_sync(obj=stripe_payout(amount=100), source="test").payout
    payout_sync(obj=stripe_payout(amount=100, status="in_transit"), source="test")

    assert tasks.reconcile_pending_payouts() == 1
    assert queued == [paid.stripe_id]


# ---------------------------------------------------------------------------- invoices


def a_subscription_at_stripe(
    fake: FakeStripe, **invoice_fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A subscription and its renewal invoice as Stripe holds them (the invoice names it by id)."""
    sub = stripe_subscription()
    invoice = stripe_invoice(subscription=sub["id"], **invoice_fields)
    sub["latest_invoice"] = invoice["id"]
    fake.subscriptions[sub["id"]] = sub
    fake.invoices.append(invoice)
    return sub, invoice


def test_an_invoice_whose_events_never_came_is_synced_through_its_subscription(
    fake_stripe: FakeStripe,
) -> None:
    # given: a renewal Stripe collected, its subscription given expanded; we never heard of either
    sub, invoice = a_subscription_at_stripe(fake_stripe)
    invoice["parent"]["subscription_details"]["subscription"] = {"id": sub["id"], "object": "subscription"}

    # when
    first, second = check_twice()

    # then: mirrored with Stripe's status and amount, the subscription too, recorded as auto-fixed
    local = Invoice.objects.get(stripe_id=invoice["id"])
    assert (local.status, local.amount_due, local.subscription_id) == ("paid", 900, sub["id"])
    assert Subscription.objects.get(stripe_id=sub["id"]).status == "active"
    case = Discrepancy.objects.get()
    assert (case.kind, case.object_id, case.status) == ("missing_local", invoice["id"], "auto_fixed")
    assert case.detail == f"{invoice['id']}: missing here, paid at Stripe; synced"
    assert (first.auto_fixed, first.opened, second.auto_fixed, second.opened) == (1, 0, 0, 0)


def test_an_invoice_held_in_an_older_status_is_moved_forward_and_recorded(fake_stripe: FakeStripe) -> None:
    # given: we hold the renewal as open (its payment's events never came); Stripe has it paid
    sub, invoice = a_subscription_at_stripe(fake_stripe)
    billing_refresh(subscription_id=sub["id"])
    Invoice.objects.filter(stripe_id=invoice["id"]).update(status="open", status_at=0)

    # when
    result = ledger_check(window=WINDOW)

    # then
    assert Invoice.objects.get(stripe_id=invoice["id"]).status == "paid"
    case = Discrepancy.objects.get()
    assert (case.kind, case.status) == ("status_mismatch", "auto_fixed")
    assert case.detail == f"{invoice['id']}: open here, paid at Stripe; synced"
    assert (result.auto_fixed, result.opened) == (1, 0)


def test_an_older_invoice_of_a_subscription_that_has_renewed_since_is_synced_too(
    fake_stripe: FakeStripe,
) -> None:
    # given: last month's renewal, missed, and this month's, its subscription's latest invoice
    sub, latest = a_subscription_at_stripe(fake_stripe)
    older = stripe_invoice(subscription=sub["id"], created=latest["created"] - 3600)
    fake_stripe.invoices.insert(0, older)

    # when
    first, second = check_twice()

    # then: both mirrored; the one the check looked for is recorded as auto-fixed
    mirrored = dict(Invoice.objects.values_list("stripe_id", "status"))
    assert mirrored == {older["id"]: "paid", latest["id"]: "paid"}
    assert cases() == [("missing_local", older["id"], "auto_fixed")]
    assert (first.auto_fixed, first.opened, second.auto_fixed, second.opened) == (1, 0, 0, 0)


def test_an_invoice_for_nothing_due_that_we_hold_as_stripe_does_raises_no_case(
    fake_stripe: FakeStripe,
) -> None:
    # given: a trial's invoice, nothing due, mirrored as Stripe holds it
    sub, invoice = a_subscription_at_stripe(fake_stripe, amount_due=0, amount_paid=0)
    billing_refresh(subscription_id=sub["id"])

    # when
    result = ledger_check(window=WINDOW)

    # then
    assert Invoice.objects.get(stripe_id=invoice["id"]).amount_due == 0
    assert not Discrepancy.objects.exists()
    assert (result.opened, result.auto_fixed) == (0, 0)


def test_an_invoice_stripe_lists_with_no_status_is_reported_with_none(fake_stripe: FakeStripe) -> None:
    invoice = stripe_invoice(subscription=None, status=None)
    fake_stripe.invoices.append(invoice)

    ledger_check(window=WINDOW)

    assert Discrepancy.objects.get().detail == f"{invoice['id']}:  at Stripe; not mirrored"


def test_an_invoice_with_no_subscription_that_we_lack_is_reported_not_mirrored(
    fake_stripe: FakeStripe,
) -> None:
    invoice = stripe_invoice(subscription=None, status="open", amount_due=1200)
    fake_stripe.invoices.append(invoice)

    first, second = check_twice()

    assert cases() == [("missing_local", invoice["id"], "open")]
    assert Discrepancy.objects.get().detail == f"{invoice['id']}: open at Stripe; not mirrored"
    assert not Invoice.objects.exists()
    assert (first.opened, first.auto_fixed, second.opened) == (1, 0, 0)
    assert first.kinds == {"missing_local": 1}


def test_an_invoice_whose_status_or_amount_differs_and_cannot_be_synced_stays_open(
    fake_stripe: FakeStripe,
) -> None:
    # given: we hold it paid for 900; Stripe says open for 1200 (a status no sync moves back to)
    sub, invoice = a_subscription_at_stripe(fake_stripe)
    billing_refresh(subscription_id=sub["id"])
    invoice.update(status="open", amount_due=1200)

    # when
    first, second = check_twice()

    # then
    local = Invoice.objects.get(stripe_id=invoice["id"])
    assert (local.status, local.amount_due) == ("paid", 900)
    assert cases() == [
        ("amount_mismatch", invoice["id"], "open"),
        ("status_mismatch", invoice["id"], "open"),
    ]
    details = dict(Discrepancy.objects.values_list("kind", "detail"))
    assert details["status_mismatch"] == f"{invoice['id']}: open at Stripe, paid here"
    assert details["amount_mismatch"] == f"{invoice['id']}: Stripe 1200 due, ours 900"
    assert (first.opened, first.auto_fixed, second.opened) == (2, 0, 0)

    # when Stripe's figures agree with ours again, the next run closes both cases
    invoice.update(status="paid", amount_due=900)
    result = ledger_check(window=WINDOW)

    assert cases() == [
        ("amount_mismatch", invoice["id"], "auto_fixed"),
        ("status_mismatch", invoice["id"], "auto_fixed"),
    ]
    assert (result.closed, result.opened, result.auto_fixed) == (2, 0, 0)


def test_a_young_invoice_and_an_upcoming_one_are_left_alone(fake_stripe: FakeStripe) -> None:
    a_subscription_at_stripe(fake_stripe, created=int(time.time()) - 60)
    upcoming = stripe_invoice(subscription=None, id=None)
    upcoming.pop("id")
    fake_stripe.invoices.append(upcoming)

    result = ledger_check(window=WINDOW)

    assert not Invoice.objects.exists() and not Discrepancy.objects.exists()
    assert result.too_young == 1
    assert result.checked == 2


# ---------------------------------------------------------------------------- cases and their alerts


def test_an_opened_case_alerts_staff_with_its_identifiers_and_a_resolved_one_can_open_again(
    fake_stripe: FakeStripe, alerts_sent: list[Any]
) -> None:
    # given: a charge of ours for 4200 that Stripe holds for 4000
    short = ChargeFactory(amount=4200)
    fake_stripe.charges.append(stripe_charge(id=short.stripe_id, amount=4000))
    with TestCase.captureOnCommitCallbacks(execute=True):
        ledger_check(window=WINDOW)
    case = Discrepancy.objects.get()

    # then: staff are told which case, of what, on which object and order (identifiers only)
    [alert] = [a for a in alerts_sent if a["kind"] == AlertKind.DISCREPANCY_OPENED]
    order = short.order
    assert alert["message"] == f"Ledger discrepancy amount_mismatch on {short.stripe_id} ({order.number})"
    assert alert["ids"] == {
        "discrepancy": case.pk,
        "kind": "amount_mismatch",
        "object": short.stripe_id,
        "order": order.number,
    }

    # when finance resolve it and the next run still finds the difference: a new case, a new alert
    Discrepancy.objects.filter(pk=case.pk).update(status="resolved", resolved_at=case.created_at)
    with TestCase.captureOnCommitCallbacks(execute=True):
        again = ledger_check(window=WINDOW)

    assert again.opened == 1
    assert cases() == [
        ("amount_mismatch", short.stripe_id, "open"),
        ("amount_mismatch", short.stripe_id, "resolved"),
    ]
    assert len([a for a in alerts_sent if a["kind"] == AlertKind.DISCREPANCY_OPENED]) == 2


def test_a_case_with_no_order_alerts_with_no_order(fake_stripe: FakeStripe, alerts_sent: list[Any]) -> None:
    charge = stripe_charge(amount=4200)
    fake_stripe.charges.append(charge)

    with TestCase.captureOnCommitCallbacks(execute=True):
        ledger_check(window=WINDOW)

    [alert] = [a for a in alerts_sent if a["kind"] == AlertKind.DISCREPANCY_OPENED]
    assert alert["message"] == f"Ledger discrepancy missing_local on {charge['id']}"
    assert alert["ids"]["order"] is None


# ---------------------------------------------------------------------------- refunds and disputes


def test_a_refund_whose_failure_we_missed_gives_the_order_its_refunded_amount_back(
    fake_stripe: FakeStripe,
) -> None:
    # given: we hold a refund of 1500 as succeeded; Stripe failed it since (refund.failed never came)
    order = OrderFactory(
        amount=4200,
        status=Order.Status.PARTIALLY_REFUNDED,
        amount_refunded=1500,
        charge_id="ch_paid",
        fulfilled_at=timezone.now(),
    )
    fake_stripe.charges.append(
        stripe_charge(id="ch_paid", amount=4200, payment_intent=order.payment_intent_id)
    )
    refund = stripe_refund(
        amount=1500, charge="ch_paid", payment_intent=order.payment_intent_id, status="failed"
    )
    fake_stripe.refunds.append(refund)
    Refund.objects.create(
        stripe_id=refund["id"],
        order=order,
        charge_id="ch_paid",
        amount=1500,
        currency="gbp",
        status="succeeded",
    )

    check_twice()

    # then: the refund is failed here too, and the order no longer counts it as refunded
    assert Refund.objects.get(stripe_id=refund["id"]).status == "failed"
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.FULFILLED, 0)
    assert cases() == [("status_mismatch", refund["id"], "auto_fixed")]
    detail = Discrepancy.objects.get().detail
    assert detail == f"{refund['id']}: succeeded here, failed at Stripe; applied"


def test_a_pending_refund_we_never_heard_of_is_mirrored_and_stays_in_flight_on_its_order(
    fake_stripe: FakeStripe,
) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    fake_stripe.charges.append(
        stripe_charge(id="ch_paid", amount=4200, payment_intent=order.payment_intent_id)
    )
    refund = stripe_refund(
        amount=1500, charge="ch_paid", payment_intent=order.payment_intent_id, status="pending"
    )
    fake_stripe.refunds.append(refund)

    result = ledger_check(window=WINDOW)

    assert Refund.objects.get(stripe_id=refund["id"]).status == "pending"
    assert cases() == [("in_flight", refund["id"], "open"), ("missing_local", refund["id"], "auto_fixed")]
    on_order = {d.kind: d.order for d in Discrepancy.objects.all()}
    assert on_order == {"in_flight": order, "missing_local": order}
    mirrored = Discrepancy.objects.get(kind="missing_local")
    assert mirrored.detail == f"{refund['id']}: pending at Stripe, 1500; mirrored"
    assert (result.opened, result.auto_fixed) == (1, 1)


def test_a_refund_stripe_holds_in_an_older_status_or_for_another_amount_stays_open(
    fake_stripe: FakeStripe,
) -> None:
    # given: we hold a refund failed for 1000; Stripe lists it succeeded for 1200 (failed is final)
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    ours = Refund.objects.create(
        stripe_id="re_final", order=order, charge_id="ch_paid", amount=1000, currency="gbp", status="failed"
    )
    fake_stripe.refunds.append(stripe_refund(id=ours.stripe_id, amount=1200, charge="ch_paid"))

    first, second = check_twice()

    assert Refund.objects.get(pk=ours.pk).status == "failed"
    assert cases() == [("amount_mismatch", "re_final", "open"), ("status_mismatch", "re_final", "open")]
    details = {d.kind: (d.detail, d.order) for d in Discrepancy.objects.all()}
    assert details == {
        "status_mismatch": ("re_final: succeeded at Stripe, failed here", order),
        "amount_mismatch": ("re_final: Stripe 1200, ours 1000", order),
    }
    assert (first.opened, second.opened) == (2, 0)


def test_a_refund_in_a_status_we_do_not_know_is_reported_not_applied(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    ours = Refund.objects.create(
        stripe_id="re_odd", order=order, charge_id="ch_paid", amount=1000, currency="gbp", status="pending"
    )
    fake_stripe.refunds.append(stripe_refund(id=ours.stripe_id, amount=1000, status="reversed"))

    ledger_check(window=WINDOW)

    assert Refund.objects.get(pk=ours.pk).status == "pending"
    assert cases() == [("status_mismatch", "re_odd", "open")]


def test_a_refund_listed_from_a_status_we_do_not_know_moves_forward(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    pi = order.payment_intent_id
    fake_stripe.charges.append(stripe_charge(id="ch_paid", amount=4200, payment_intent=pi))
    ours = Refund.objects.create(
        stripe_id="re_odd", order=order, charge_id="ch_paid", amount=1000, currency="gbp", status="unknown"
    )
    fake_stripe.refunds.append(
        stripe_refund(id=ours.stripe_id, amount=1000, charge="ch_paid", payment_intent=pi)
    )

    result = ledger_check(window=WINDOW)

    assert cases() == [("status_mismatch", "re_odd", "auto_fixed")]
    assert result.auto_fixed == 1


def test_young_refunds_disputes_and_invoices_keep_their_open_cases_until_they_are_old_enough(
    fake_stripe: FakeStripe,
) -> None:
    young = int(time.time()) - 60
    refund = stripe_refund(status="pending", created=young)
    dispute = stripe_dispute(created=young)
    _, invoice = a_subscription_at_stripe(fake_stripe, created=young)
    charge = stripe_charge(created=young)
    fake_stripe.charges.append(charge)
    fake_stripe.refunds.append(refund)
    Discrepancy.objects.create(kind="missing_local", object_id=charge["id"], detail="seen before")
    fake_stripe.disputes.append(dispute)
    Discrepancy.objects.create(kind="in_flight", object_id=refund["id"], detail="seen pending before")
    Discrepancy.objects.create(kind="status_mismatch", object_id=dispute["id"], detail="won here before")
    Discrepancy.objects.create(kind="amount_mismatch", object_id=invoice["id"], detail="800 due before")

    result = ledger_check(window=WINDOW)

    assert result.too_young == 4
    assert cases() == sorted(
        [
            ("missing_local", charge["id"], "open"),
            ("in_flight", refund["id"], "open"),
            ("status_mismatch", dispute["id"], "open"),
            ("amount_mismatch", invoice["id"], "open"),
        ]
    )
    assert not Refund.objects.exists() and not Invoice.objects.exists()


def test_a_dispute_whose_amount_or_status_differs_is_reported_on_its_charges_order(
    fake_stripe: FakeStripe,
) -> None:
    # given: the dispute's charge comes expanded; we hold the dispute for 4200, needing a response
    charge = ChargeFactory()
    fake_stripe.charges.append(stripe_charge(id=charge.stripe_id, amount=charge.amount))
    ours = DisputeFactory(charge_id=charge.stripe_id, amount=4200, status="needs_response")
    fake_stripe.disputes.append(
        stripe_dispute(id=ours.stripe_id, charge={"id": charge.stripe_id}, amount=3000, status="won")
    )

    first, second = check_twice()

    details = {d.kind: (d.detail, d.order) for d in Discrepancy.objects.all()}
    assert details == {
        "status_mismatch": (f"{ours.stripe_id}: won at Stripe, needs_response here", charge.order),
        "amount_mismatch": (f"{ours.stripe_id}: Stripe 3000, ours 4200", charge.order),
    }
    assert (first.opened, second.opened) == (2, 0)
    assert first.kinds == {"status_mismatch": 1, "amount_mismatch": 1}


def test_a_dispute_on_a_charge_we_do_not_mirror_is_reported_on_the_order_its_ids_name(
    fake_stripe: FakeStripe,
) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_unmirrored")
    dispute = stripe_dispute(charge="ch_unmirrored", payment_intent=order.payment_intent_id)
    fake_stripe.disputes.append(dispute)

    ledger_check(window=WINDOW)

    case = Discrepancy.objects.get()
    assert (case.kind, case.order) == ("missing_local", order)
    assert case.detail == f"{dispute['id']}: needs_response at Stripe, 4200; not mirrored"


def test_every_charge_difference_finance_sees_names_the_charge_the_figures_and_the_order(
    fake_stripe: FakeStripe,
) -> None:
    """One run over a charge of each shape: what the case says (finance reads it in the admin and
    the API), which order it is on, and the run's figures."""
    old = int(time.time()) - 3 * 3600
    stuck = ChargeFactory(stripe_id="ch_stuck", amount=1000)
    # our side of a charge is its mirror when we hold one, not the order (here 5000)
    short = ChargeFactory(stripe_id="ch_short", amount=4200, order=OrderFactory(amount=5000))
    failed_there = ChargeFactory(stripe_id="ch_failed_there")
    ordered_less = OrderFactory(amount=3000, status=Order.Status.PAID, charge_id="ch_order_amount")
    failed_order = OrderFactory(amount=2000, status=Order.Status.PAID, charge_id="ch_order_failed")
    retried = OrderFactory(amount=2000, status=Order.Status.PAID, charge_id="ch_retried_paid")
    missed = ChargeFactory(stripe_id="ch_missed", status="pending", paid=False)
    orphan = ChargeFactory(stripe_id="ch_orphan", order=None, status="pending", paid=False)
    unpaid = ChargeFactory(stripe_id="ch_unpaid", status="pending", paid=False)
    by_order = {
        "metadata": {"order_id": str(missed.order.pk)},
        "payment_intent": missed.order.payment_intent_id,
    }
    without_paid = stripe_charge(id="ch_missed", amount=missed.amount, **by_order)
    del without_paid["paid"]  # a charge Stripe lists without `paid` is read as paid

    def declined(charge_id: str, order: Order) -> dict[str, Any]:
        return stripe_charge(
            id=charge_id, amount=2000, status="failed", paid=False, metadata={"order_id": str(order.pk)}
        )

    fake_stripe.charges += [
        stripe_charge(id="ch_unknown", amount=4200),
        stripe_charge(id="ch_unknown_failed", status="failed", paid=False),
        stripe_charge(id="ch_stuck", amount=1000, status="pending", paid=False, created=old),
        stripe_charge(id="ch_short", amount=4000),
        stripe_charge(id="ch_failed_there", amount=failed_there.amount, status="failed", paid=False),
        stripe_charge(id="ch_order_amount", amount=3100, metadata={"order_id": str(ordered_less.pk)}),
        declined("ch_order_failed", failed_order),
        # A declined first attempt on an order paid by another charge is not a difference.
        declined("ch_retried_declined", retried),
        without_paid,
        stripe_charge(id="ch_orphan", amount=orphan.amount),
        stripe_charge(id="ch_unpaid", amount=unpaid.amount, paid=False),
    ]

    with TestCase.captureOnCommitCallbacks(execute=True):
        result = ledger_check(window=WINDOW)

    missed.order.refresh_from_db()
    assert missed.order.status == Order.Status.FULFILLED
    got = {(d.kind, d.object_id): (d.status, d.detail, d.order) for d in Discrepancy.objects.all()}
    assert got == {
        ("missing_local", "ch_unknown"): (
            "open",
            "ch_unknown: succeeded at Stripe, 4200 gbp; no charge or order of ours",
            None,
        ),
        ("in_flight", "ch_stuck"): ("open", "ch_stuck: still pending at Stripe, 1000 gbp", stuck.order),
        ("amount_mismatch", "ch_short"): ("open", "ch_short: Stripe 4000 gbp, ours 4200", short.order),
        ("status_mismatch", "ch_failed_there"): (
            "open",
            "ch_failed_there: failed at Stripe, paid here",
            failed_there.order,
        ),
        ("amount_mismatch", "ch_order_amount"): (
            "open",
            "ch_order_amount: Stripe 3100 gbp, ours 3000",
            ordered_less,
        ),
        ("status_mismatch", "ch_order_failed"): (
            "open",
            "ch_order_failed: failed at Stripe, paid here",
            failed_order,
        ),
        ("status_mismatch", "ch_missed"): (
            "auto_fixed",
            f"ch_missed: succeeded at Stripe, not paid here; applied ({missed.order.number})",
            missed.order,
        ),
        ("status_mismatch", "ch_orphan"): ("open", "ch_orphan: succeeded at Stripe, not paid here", None),
    }
    assert (result.checked, result.opened, result.auto_fixed, result.closed, result.too_young) == (
        11,
        7,
        1,
        0,
        0,
    )
    assert result.kinds == {"missing_local": 1, "in_flight": 1, "amount_mismatch": 2, "status_mismatch": 3}


def test_a_success_the_check_cannot_apply_stays_open_on_the_order_of_our_mirror(
    fake_stripe: FakeStripe,
) -> None:
    # given our mirror of a charge, on an order, and Stripe's charge naming no order of ours
    lost = ChargeFactory(stripe_id="ch_lost", status="pending", paid=False)
    fake_stripe.charges.append(stripe_charge(id="ch_lost", amount=lost.amount))

    ledger_check(window=WINDOW)

    # then finance finds the case on the mirror's order, still to look at
    case = Discrepancy.objects.get()
    assert (case.kind, case.status, case.order) == ("status_mismatch", "open", lost.order)
    assert case.detail == "ch_lost: succeeded at Stripe, not paid here"


def test_what_finance_sees_of_refunds_whose_status_we_cannot_move_or_stripe_lists_without_figures(
    fake_stripe: FakeStripe,
) -> None:
    # given refunds held here in a final status, in one we do not know, and one Stripe lists
    # with no status and no amount; and one we can move forward from an unknown status
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    pi = order.payment_intent_id
    fake_stripe.charges.append(stripe_charge(id="ch_paid", amount=4200, payment_intent=pi))
    held = {"failed": "canceled", "odd_here": "odd_there", "succeeded": None, "older": "pending"}
    for stripe_id, there in held.items():
        here = "unknown" if stripe_id == "older" else stripe_id
        Refund.objects.create(
            stripe_id=f"re_{stripe_id}",
            order=order,
            charge_id="ch_paid",
            amount=1500,
            currency="gbp",
            status=here,
        )
        refund = stripe_refund(
            id=f"re_{stripe_id}", amount=1500, charge="ch_paid", payment_intent=pi, status=there
        )
        if there is None:
            refund["amount"] = None
        fake_stripe.refunds.append(refund)

    with TestCase.captureOnCommitCallbacks(execute=True):
        result = ledger_check(window=WINDOW)

    # then a final status is not moved sideways, an unknown one is not guessed at, and a refund
    # with no figures says so
    got = {(d.kind, d.object_id): (d.status, d.detail, d.order, d.run_id) for d in Discrepancy.objects.all()}
    assert got == {
        ("status_mismatch", "re_failed"): (
            "open",
            "re_failed: canceled at Stripe, failed here",
            order,
            result.run_id,
        ),
        ("status_mismatch", "re_odd_here"): (
            "open",
            "re_odd_here: odd_there at Stripe, odd_here here",
            order,
            result.run_id,
        ),
        ("status_mismatch", "re_succeeded"): (
            "open",
            "re_succeeded:  at Stripe, succeeded here",
            order,
            result.run_id,
        ),
        ("amount_mismatch", "re_succeeded"): (
            "open",
            "re_succeeded: Stripe 0, ours 1500",
            order,
            result.run_id,
        ),
        ("status_mismatch", "re_older"): (
            "auto_fixed",
            "re_older: unknown here, pending at Stripe; applied",
            order,
            result.run_id,
        ),
        ("in_flight", "re_older"): ("open", "re_older: still pending at Stripe, 1500", order, result.run_id),
    }
    assert Refund.objects.get(stripe_id="re_older").status == "pending"


def test_a_dispute_stripe_lists_without_status_or_amount_or_charge_says_so(fake_stripe: FakeStripe) -> None:
    # given other orders with no Charge mirror either, before and after the dispute's own
    OrderFactory(amount=100, status=Order.Status.FULFILLED, charge_id="ch_before")
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_paid")
    OrderFactory(amount=100, status=Order.Status.FULFILLED, charge_id="ch_after")
    bare = stripe_dispute(
        id="dp_bare", charge=None, status=None, amount=None, payment_intent=order.payment_intent_id
    )
    fake_stripe.disputes.append(bare)

    ledger_check(window=WINDOW)

    case = Discrepancy.objects.get()
    assert (case.kind, case.object_id, case.order) == ("missing_local", "dp_bare", order)
    assert case.detail == "dp_bare:  at Stripe, 0; not mirrored"


def test_a_charge_exactly_as_old_as_the_grace_period_is_checked(fake_stripe: FakeStripe) -> None:
    now = timezone.now().replace(microsecond=0)
    edge = stripe_charge(id="ch_edge", status="pending", paid=False, created=int(now.timestamp()) - 3600)
    fake_stripe.charges.append(edge)

    result = ledger_check(window=WINDOW, now=now)

    assert (result.too_young, cases()) == (0, [("in_flight", "ch_edge", "open")])


def test_a_second_charge_that_was_refunded_is_not_a_duplicate(fake_stripe: FakeStripe) -> None:
    order = OrderFactory(amount=4200, status=Order.Status.FULFILLED, charge_id="ch_first")
    by_order = {"metadata": {"order_id": str(order.pk)}}
    fake_stripe.charges += [
        stripe_charge(id="ch_first", amount=4200, created=int(time.time()) - 9000, **by_order),
        stripe_charge(id="ch_second", amount=4200, refunded=True, amount_refunded=4200, **by_order),
    ]

    ledger_check(window=WINDOW)

    assert cases(kind="duplicate") == []


def test_what_we_hold_outside_the_window_the_grace_period_or_the_mode_is_not_looked_up(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given charges and paid orders of ours Stripe does not list: paid before the window, paid
    # minutes ago, paid in live mode while we check test mode, and paid with no charge id yet
    now = int(time.time())
    for paid_at, charge_id, livemode in [
        (now - 3 * 86400, "ch_before_window", False),
        (now - 600, "ch_minutes_ago", False),
        (now - 7200, "ch_live", True),
        (now - 7200, "", False),
    ]:
        OrderFactory(status=Order.Status.PAID, paid_at=at(paid_at), charge_id=charge_id, livemode=livemode)
    ChargeFactory(stripe_id="ch_young_mirror", stripe_created=at(now - 600))
    ChargeFactory(stripe_id="ch_old_mirror", stripe_created=at(now - 3 * 86400))
    looked_up: list[str] = []
    monkeypatch.setattr(stripe_gateway, "object_retrieve", lambda *, object_id: looked_up.append(object_id))

    ledger_check(window=WINDOW)

    # then none is looked up, and none is reported
    assert (looked_up, cases()) == ([], [])


def test_a_charge_of_ours_stripe_did_not_list_is_looked_up_and_checked_as_a_charge(
    fake_stripe: FakeStripe,
) -> None:
    # given an order paid inside the window whose charge was created before it (not listed)
    order = OrderFactory(
        amount=4200, status=Order.Status.PAID, charge_id="ch_before", paid_at=at(int(time.time()) - 7200)
    )
    fake_stripe.charges.append(
        stripe_charge(id="ch_before", amount=4000, created=int(time.time()) - 3 * 86400)
    )
    ChargeFactory(stripe_id="ch_gone")

    ledger_check(window=WINDOW)

    got = {(d.kind, d.object_id): (d.detail, d.order) for d in Discrepancy.objects.all()}
    assert got == {
        ("amount_mismatch", "ch_before"): ("ch_before: Stripe 4000 gbp, ours 4200", order),
        ("missing_remote", "ch_gone"): (
            "ch_gone: ours, Stripe has no such charge",
            Charge.objects.get().order,
        ),
    }


def test_the_check_reports_its_progress_by_what_it_is_reading_and_how_many_so_far(
    fake_stripe: FakeStripe,
) -> None:
    # given: two payouts, a charge, a refund, a dispute and an invoice at Stripe
    fake_stripe.add_payout(stripe_payout(status="in_transit"), [])
    fake_stripe.add_payout(stripe_payout(status="in_transit"), [])
    fake_stripe.charges.append(stripe_charge())
    fake_stripe.refunds.append(stripe_refund(charge=None, payment_intent=None))
    fake_stripe.disputes.append(stripe_dispute(charge=None))
    fake_stripe.invoices.append(stripe_invoice(subscription=None, status="paid"))
    seen: list[tuple[str, int]] = []

    # when: staff run the command, whose bar shows what is being read and the count
    result = ledger_check(window=WINDOW, progress=lambda what, checked: seen.append((what, checked)))

    # then
    assert seen == [
        ("payouts", 1),
        ("payouts", 2),
        ("charges", 3),
        ("refunds", 4),
        ("disputes", 5),
        ("invoices", 6),
    ]
    assert result.checked == 6


def test_what_we_hold_and_stripe_did_not_list_is_fetched_checked_by_its_kind_and_counted(
    fake_stripe: FakeStripe,
) -> None:
    # given: a charge, a refund and a dispute of ours in the window that Stripe's lists of the
    # window leave out (Stripe created the charge and the refund just before it)
    old = int(time.time()) - 3 * 86400
    charge = ChargeFactory(
        order=OrderFactory(amount=4200, status=Order.Status.FULFILLED, paid_at=timezone.now())
    )
    Order.objects.filter(pk=charge.order.pk).update(charge_id=charge.stripe_id)
    fake_stripe.charges.append(stripe_charge(id=charge.stripe_id, amount=4200, created=old))
    refund = RefundFactory(order=charge.order, charge_id=charge.stripe_id, status="pending")
    fake_stripe.refunds.append(
        stripe_refund(id=refund.stripe_id, charge=charge.stripe_id, status="succeeded", created=old)
    )
    dispute = DisputeFactory(charge_id=charge.stripe_id)
    seen: list[tuple[str, int]] = []

    # when
    with TestCase.captureOnCommitCallbacks(execute=True):
        ledger_check(window=WINDOW, progress=lambda what, checked: seen.append((what, checked)))

    # then: each is fetched and checked as what it is, and the command's bar names each kind
    assert seen == [("charges of ours", 1), ("refunds of ours", 2), ("disputes of ours", 3)]
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
    assert cases() == [
        ("missing_remote", dispute.stripe_id, "open"),
        ("status_mismatch", refund.stripe_id, "auto_fixed"),
    ]


def test_a_case_the_check_no_longer_finds_is_closed_saying_so_and_every_payout_reconciled_counts(
    fake_stripe: FakeStripe,
) -> None:
    # given: a charge pending at Stripe (an in-flight case), and two paid payouts
    order = OrderFactory(amount=1000, status=Order.Status.FULFILLED, charge_id="ch_slow")
    pending = stripe_charge(
        id="ch_slow", amount=1000, status="pending", payment_intent=order.payment_intent_id
    )
    fake_stripe.charges.append(pending)
    ledger_check(window=WINDOW)
    assert cases() == [("in_flight", "ch_slow", "open")]
    for _ in range(2):
        fake_stripe.add_payout(stripe_payout(amount=0), [])

    # when: the charge has succeeded meanwhile
    pending["status"] = "succeeded"
    result = ledger_check(window=WINDOW)

    # then
    assert Discrepancy.objects.get().note == "no longer differs from Stripe"
    assert cases() == [("in_flight", "ch_slow", "auto_fixed")]
    assert (result.closed, result.payouts_reconciled) == (1, 2)


def test_a_charge_listed_without_amount_or_currency_is_reported_with_what_stripe_said(
    fake_stripe: FakeStripe,
) -> None:
    ChargeFactory(stripe_id="ch_bare", order=OrderFactory(amount=4200, status=Order.Status.FULFILLED))
    bare = stripe_charge(id="ch_bare")
    del bare["amount"], bare["currency"]
    fake_stripe.charges.append(bare)

    ledger_check(window=WINDOW)

    assert Discrepancy.objects.get().detail == "ch_bare: Stripe 0 , ours 4200"
