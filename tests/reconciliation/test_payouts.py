"""Payout mirrors and payout reconciliation: every line linked to its order, the sum checked
against the bank deposit, idempotent, one result under two workers."""

import threading
import time
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import TestCase

from core.stripe_objects import id_of
from disputes.models import Dispute
from orders.models import Order
from payments.alerts import AlertKind
from payments.models import StripeEvent
from reconciliation import tasks
from reconciliation.models import BalanceTransaction, Discrepancy, Payout
from reconciliation.selectors import payout_summary
from reconciliation.services.payouts import (
    NOTE_MANUAL,
    UPSERT_BATCH,
    PayoutReconcileResult,
    payout_reconcile,
    payout_sync,
    payouts_to_reconcile,
)
from tests.factories import OrderFactory, event, stored_event
from tests.reconciliation.factories import (
    ChargeFactory,
    DisputeFactory,
    FakeStripe,
    RefundFactory,
    at,
    capture_reconciliations,
    charge_txn,
    dispute_txn,
    refund_txn,
    stripe_charge,
    stripe_dispute,
    stripe_payout,
    stripe_refund,
    stripe_txn,
)

pytestmark = pytest.mark.django_db


def a_mixed_payout(fake: FakeStripe) -> dict[str, Any]:
    """A payout of: a mirrored charge, a charge we never mirrored (found by its metadata), a
    refund, a dispute with its fee, a separately billed Stripe fee and a type nobody expected."""
    mirrored = ChargeFactory(order=OrderFactory(amount=4200))
    unmirrored_order = OrderFactory(amount=2400)
    refunded = RefundFactory(order=mirrored.order, charge_id=mirrored.stripe_id, amount=1000)
    disputed_charge = ChargeFactory(order=OrderFactory(amount=3000))
    dispute = DisputeFactory(charge_id=disputed_charge.stripe_id, amount=3000)
    lines = [
        charge_txn(stripe_charge(id=mirrored.stripe_id, amount=4200), fee=143),
        charge_txn(stripe_charge(amount=2400, metadata={"order_id": str(unmirrored_order.pk)}), fee=102),
        refund_txn(stripe_refund(id=refunded.stripe_id, amount=1000, charge=mirrored.stripe_id)),
        dispute_txn(
            stripe_dispute(id=dispute.stripe_id, amount=3000, charge=disputed_charge.stripe_id), fee=1500
        ),
        stripe_txn(amount=-200, type="stripe_fee", source=None, reporting_category="fee"),
        stripe_txn(amount=-55, type="climate_order_purchase", source=None, reporting_category="climate"),
    ]
    amount = sum(line["net"] for line in lines)
    return fake.add_payout(stripe_payout(amount=amount), lines)


def test_a_paid_payout_adds_up_and_every_line_is_linked_to_its_order(fake_stripe: FakeStripe) -> None:
    # given
    obj = a_mixed_payout(fake_stripe)
    payout_sync(obj=obj, source="test")

    # when
    result = payout_reconcile(payout_id=obj["id"])

    # then
    payout = Payout.objects.get(stripe_id=obj["id"])
    assert (result.reconciled, result.unexplained, result.lines) == (True, 0, 7)
    assert payout.reconciled and payout.unexplained == 0 and payout.lines_count == 7
    assert payout.reconciled_at is not None and payout.reconciled_at > payout.synced_at
    lines = {line.type: line for line in BalanceTransaction.objects.filter(payout=payout)}
    charges = BalanceTransaction.objects.filter(payout=payout, type="charge").order_by("amount")
    assert [c.order.amount for c in charges] == [2400, 4200]  # type: ignore[union-attr]
    assert lines["refund"].refund is not None and lines["refund"].order == lines["refund"].refund.order
    assert lines["adjustment"].dispute is not None and lines["adjustment"].order is not None
    assert lines["adjustment"].order.amount == 3000
    assert lines["stripe_fee"].order is None
    # An unknown type is kept as it came, never guessed.
    assert lines["climate_order_purchase"].reporting_category == "climate"
    assert lines["payout"].net == -payout.amount
    summary = payout_summary(payout=payout)
    assert summary["net"] == payout.amount
    assert summary["charges"] == 6600 and summary["refunds"] == -1000 and summary["disputes"] == -3000
    assert summary["fees"] == -(143 + 102 + 1500 + 200) and summary["adjustments"] == -55
    assert (
        sum(summary[k] for k in ("charges", "refunds", "disputes", "fees", "adjustments")) == summary["net"]
    )
    assert not Discrepancy.objects.exists()


def test_reconciling_again_changes_nothing_and_asks_stripe_no_more(fake_stripe: FakeStripe) -> None:
    obj = a_mixed_payout(fake_stripe)
    payout_sync(obj=obj, source="test")
    payout_reconcile(payout_id=obj["id"])
    before = list(
        BalanceTransaction.objects.order_by("stripe_id").values_list("stripe_id", "net", "order_id")
    )

    again = payout_reconcile(payout_id=obj["id"])

    assert again.reconciled and again.unexplained == 0
    assert fake_stripe.listed == [obj["id"]]
    assert (
        list(BalanceTransaction.objects.order_by("stripe_id").values_list("stripe_id", "net", "order_id"))
        == before
    )


def test_a_payout_that_does_not_add_up_keeps_its_remainder_as_one_discrepancy_and_alerts_once(
    fake_stripe: FakeStripe, alerts_sent: list[dict[str, Any]]
) -> None:
    # given: Stripe lists 3,000 less than the deposit (a capital repayment, say)
    charge = stripe_charge(amount=10000)
    obj = fake_stripe.add_payout(stripe_payout(amount=13000), [charge_txn(charge)])
    payout_sync(obj=obj, source="test")

    # when: reconciled twice
    with TestCase.captureOnCommitCallbacks(execute=True):
        first = payout_reconcile(payout_id=obj["id"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        second = payout_reconcile(payout_id=obj["id"])

    # then
    assert (first.reconciled, first.unexplained) == (False, 3000)
    assert (second.reconciled, second.unexplained) == (False, 3000)
    case = Discrepancy.objects.get()
    assert (case.kind, case.object_id, case.status) == ("payout_residual", obj["id"], "open")
    assert case.detail == f"{obj['id']}: amount 13000 gbp, its transactions net 10000, unexplained 3000"
    residual_alerts = [a for a in alerts_sent if a["kind"] == AlertKind.PAYOUT_UNEXPLAINED]
    assert len(residual_alerts) == 1
    assert residual_alerts[0]["ids"] == {"payout": obj["id"], "discrepancy": case.pk, "unexplained": 3000}
    assert residual_alerts[0]["message"] == f"Payout {obj['id']} does not add up: £30.00 unexplained"


def test_a_payout_that_adds_up_once_stripe_lists_the_missing_line_closes_its_case(
    fake_stripe: FakeStripe,
) -> None:
    # given: a payout 3,000 short, its case open
    obj = fake_stripe.add_payout(stripe_payout(amount=13000), [charge_txn(stripe_charge(amount=10000))])
    payout_sync(obj=obj, source="test")
    payout_reconcile(payout_id=obj["id"])

    # when: Stripe lists the line it had left out, and the payout is reconciled again
    fake_stripe.transactions[obj["id"]].append(charge_txn(stripe_charge(amount=3000)))
    result = payout_reconcile(payout_id=obj["id"])

    # then
    assert result == PayoutReconcileResult(payout_id=obj["id"], reconciled=True, unexplained=0, lines=3)
    payout = Payout.objects.get(stripe_id=obj["id"])
    assert (payout.reconciled, payout.unexplained, payout.lines_count) == (True, 0, 3)
    case = Discrepancy.objects.get()
    assert (case.kind, case.status, case.note) == ("payout_residual", "auto_fixed", "the payout adds up now")
    assert case.resolved_at is not None


def test_reconciling_a_payout_that_is_not_ready_or_already_done_says_why_and_asks_stripe_nothing(
    fake_stripe: FakeStripe,
) -> None:
    # given
    in_transit = payout_sync(obj=stripe_payout(amount=100, status="in_transit"), source="test").payout
    manual = payout_sync(obj=stripe_payout(amount=100, automatic=False), source="test").payout
    done = fake_stripe.add_payout(stripe_payout(amount=0), [])
    payout_sync(obj=done, source="test")
    payout_reconcile(payout_id=done["id"])

    # when
    results = [payout_reconcile(payout_id=p) for p in (in_transit.stripe_id, manual.stripe_id, done["id"])]

    # then: what the admin action and the command show staff
    assert results == [
        PayoutReconcileResult(
            in_transit.stripe_id, reconciled=False, unexplained=None, lines=0, note="not paid yet"
        ),
        PayoutReconcileResult(
            manual.stripe_id, reconciled=False, unexplained=None, lines=0, note=NOTE_MANUAL
        ),
        PayoutReconcileResult(done["id"], reconciled=True, unexplained=0, lines=1, note="already reconciled"),
    ]
    assert fake_stripe.listed == [done["id"]]


def test_a_payout_still_being_reconciled_at_stripe_opens_no_case(fake_stripe: FakeStripe) -> None:
    obj = fake_stripe.add_payout(stripe_payout(amount=5000, reconciliation_status="in_progress"), [])
    payout_sync(obj=obj, source="test")

    result = payout_reconcile(payout_id=obj["id"])

    assert (result.reconciled, result.unexplained) == (False, 5000)
    assert not Discrepancy.objects.exists()


def test_many_pages_of_transactions_are_all_stored_and_summed(fake_stripe: FakeStripe) -> None:
    count = UPSERT_BATCH * 2 + 37
    lines = [charge_txn(stripe_charge(amount=1000 + i), fee=30) for i in range(count)]
    obj = fake_stripe.add_payout(stripe_payout(amount=sum(line["net"] for line in lines)), lines)
    payout_sync(obj=obj, source="test")

    result = payout_reconcile(payout_id=obj["id"])

    assert result.reconciled and result.lines == count + 1
    assert BalanceTransaction.objects.filter(payout__stripe_id=obj["id"]).count() == count + 1


def test_the_database_refuses_a_transaction_whose_net_is_not_amount_minus_fee() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        BalanceTransaction.objects.create(
            stripe_id="txn_bad", type="charge", amount=1000, fee=30, net=1000, currency="gbp"
        )


def test_payout_status_only_moves_forward_and_a_known_trace_id_is_kept() -> None:
    obj = stripe_payout(amount=5000, status="paid")
    payout_sync(obj=obj, source="evt_2", seen_at=200)

    stale = {**obj, "status": "in_transit", "trace_id": {"status": "pending", "value": None}}
    assert not payout_sync(obj=stale, source="evt_1", seen_at=100).changed
    same_rank_older = {**obj, "trace_id": {"status": "pending", "value": None}}
    payout_sync(obj=same_rank_older, source="evt_0", seen_at=150)
    newer_no_trace = {**obj, "trace_id": {"status": "pending", "value": None}, "description": "LATER"}
    payout_sync(obj=newer_no_trace, source="evt_3", seen_at=300)

    payout = Payout.objects.get(stripe_id=obj["id"])
    assert payout.status == "paid"
    assert payout.trace_id == "TRACE-0001"
    assert payout.description == "LATER"
    # A paid payout can still fail (Stripe: some failed payouts first show as paid).
    payout_sync(
        obj={**obj, "status": "failed", "failure_code": "account_closed"}, source="evt_4", seen_at=400
    )
    payout.refresh_from_db()
    assert (payout.status, payout.failure_code) == ("failed", "account_closed")


def test_what_each_payout_snapshot_changes_and_what_the_sync_says_it_did() -> None:
    base = stripe_payout(amount=5000, status="in_transit", reconciliation_status="in_progress")
    base["trace_id"] = {"status": "pending", "value": "TRACE-1"}

    def sync(at: int, **fields: Any) -> Any:
        return payout_sync(obj={**base, **fields}, source="test", seen_at=at)

    def held(*names: str) -> tuple[Any, ...]:
        payout = Payout.objects.get(stripe_id=base["id"])
        return tuple(getattr(payout, name) for name in names)

    first = sync(100)
    synced_first = held("synced_at")[0]
    again = sync(100)
    assert (first.created, first.changed, again.created, again.changed) == (True, True, False, False)
    assert held("synced_at")[0] > synced_first  # we looked again, even though nothing changed
    # a snapshot of the same second and status applies; an older one does not
    same_second, older = sync(100, description="SAME SECOND"), sync(50, description="OLDER")
    assert (same_second.created, same_second.changed) == (False, True)
    assert (older.created, older.changed) == (False, False)
    assert held("description") == ("SAME SECOND",)
    # a status we do not know changes nothing, however new, and neither does such a reconciliation status
    assert not sync(200, status="some_future_status").changed
    sync(250, reconciliation_status="some_future_state")
    assert held("status", "reconciliation_status") == ("in_transit", "in_progress")
    # the trace's status moves on with its id; a snapshot without a trace keeps both
    sync(300, trace_id={"status": "supported", "value": "TRACE-1"})
    sync(400, trace_id={"status": "pending", "value": None})
    assert held("trace_id", "trace_id_status") == ("TRACE-1", "supported")
    # Stripe's reconciliation never goes back to in progress; between two final ones the newer wins
    sync(500, status="paid", reconciliation_status="completed")
    sync(600, status="paid", reconciliation_status="in_progress")
    assert held("status", "reconciliation_status") == ("paid", "completed")
    sync(700, status="paid", reconciliation_status="not_applicable")
    assert held("reconciliation_status") == ("not_applicable",)


def test_a_payout_held_in_statuses_we_do_not_know_takes_newer_ones_and_any_we_know() -> None:
    obj = stripe_payout(amount=5000, status="future_a", reconciliation_status="future_state")
    payout_sync(obj=obj, source="test", seen_at=100)
    payout_sync(obj={**obj, "status": "future_b"}, source="test", seen_at=50)  # older: nothing
    assert Payout.objects.get().status == "future_a"
    payout_sync(obj={**obj, "status": "future_b"}, source="test", seen_at=200)  # newer: taken
    assert Payout.objects.get().status == "future_b"
    payout_sync(obj={**obj, "status": "pending", "reconciliation_status": None}, source="test", seen_at=150)
    assert (Payout.objects.get().status, Payout.objects.get().reconciliation_status) == ("pending", "")


def test_payout_events_go_through_the_inbox_and_a_paid_one_queues_its_reconciliation(
    process: Any, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)
    obj = a_mixed_payout(fake_stripe)

    created = process(event("payout.created", {**obj, "status": "pending"}, created=1000))
    paid = process(event("payout.paid", obj, created=2000))
    repeated = process(event("payout.paid", obj, created=2000))
    late_update = process(event("payout.updated", {**obj, "status": "in_transit"}, created=1500))

    assert [e.status for e in (created, paid, repeated, late_update)] == ["processed"] * 4
    assert Payout.objects.get(stripe_id=obj["id"]).status == "paid"
    assert queued == [obj["id"]]  # the repeated and the stale event queue nothing more
    for payout_id in queued * 2:  # what the worker then runs, even twice: one result
        tasks.reconcile_payout(payout_id)
    assert Payout.objects.get(stripe_id=obj["id"]).reconciled
    assert fake_stripe.listed == [obj["id"]]


def test_reconciliation_completed_queues_a_paid_payout_stripe_was_still_reconciling(
    process: Any, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)
    obj = a_mixed_payout(fake_stripe)

    process(event("payout.paid", {**obj, "reconciliation_status": "in_progress"}, created=2000))
    assert queued == []
    process(
        event("payout.reconciliation_completed", {**obj, "reconciliation_status": "completed"}, created=2100)
    )

    assert queued == [obj["id"]]


def test_reconcile_payouts_does_every_paid_payout_not_reconciled_yet(fake_stripe: FakeStripe) -> None:
    first, second = a_mixed_payout(fake_stripe), a_mixed_payout(fake_stripe)
    in_transit = fake_stripe.add_payout(stripe_payout(amount=100, status="in_transit"), [])
    for obj in (first, second, in_transit):
        payout_sync(obj=obj, source="test")

    out = StringIO()
    call_command("reconcile_payouts", stdout=out, stderr=StringIO())
    again = StringIO()
    call_command("reconcile_payouts", stdout=again, stderr=StringIO())

    assert set(Payout.objects.filter(reconciled=True).values_list("stripe_id", flat=True)) == {
        first["id"],
        second["id"],
    }
    assert "2 payout(s) reconciled" in out.getvalue()
    assert "0 payout(s) reconciled" in again.getvalue()
    assert sorted(fake_stripe.listed) == sorted([first["id"], second["id"]])


@pytest.mark.django_db(transaction=True)
def test_two_workers_reconciling_one_payout_at_once_give_one_result(fake_stripe: FakeStripe) -> None:
    obj = a_mixed_payout(fake_stripe)
    payout_sync(obj=obj, source="test")
    fake_stripe.list_delay = 0.5  # without the payout lock both workers would be listing at once
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = payout_reconcile(payout_id=obj["id"])
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [(r.reconciled, r.unexplained, r.lines) for r in results] == [(True, 0, 7), (True, 0, 7)]
    assert fake_stripe.listed == [obj["id"]]  # the second waited for the lock, then found it done
    assert BalanceTransaction.objects.count() == 7


def test_the_payouts_left_to_reconcile_are_the_paid_automatic_ones_oldest_first() -> None:
    now = int(time.time())
    newer = payout_sync(obj=stripe_payout(amount=100, created=now - 600), source="test").payout
    older = payout_sync(obj=stripe_payout(amount=100, created=now - 7200), source="test").payout
    payout_sync(obj=stripe_payout(amount=100, automatic=False), source="test")
    payout_sync(obj=stripe_payout(amount=100, status="in_transit"), source="test")
    done = payout_sync(obj=stripe_payout(amount=0), source="test").payout
    Payout.objects.filter(pk=done.pk).update(reconciled=True)

    assert list(payouts_to_reconcile()) == [older.stripe_id, newer.stripe_id]


def test_payouts_stripe_created_in_the_same_second_are_queued_in_the_order_we_first_mirrored_them() -> None:
    # given: two payouts of one second; the first one mirrored is synced again later (its row
    # rewritten), so the table's own order no longer says which came first
    created = int(time.time()) - 7200
    first = payout_sync(obj=stripe_payout(amount=100, created=created, status="in_transit"), source="test")
    second = payout_sync(obj=stripe_payout(amount=200, created=created), source="test").payout
    paid = stripe_payout(id=first.payout.stripe_id, amount=100, created=created)
    payout_sync(obj=paid, source="test")

    # when: the planner reads the table rather than an index that happens to hold them by id
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
    queued = list(payouts_to_reconcile())

    # then: every sweep queues them in one order, the first mirrored first
    assert queued == [first.payout.stripe_id, second.stripe_id]


def test_a_payout_mirror_keeps_what_finance_reads_off_stripe() -> None:
    obj = stripe_payout(
        amount=98765,
        currency="GBP",
        created=1_700_000_000,
        arrival_date=1_700_086_400,
        livemode=True,
        method="instant",
        type="bank_account",
        description="STRIPE PAYOUT",
        failure_code=None,
        trace_id={"status": "supported", "value": "TRACE-42"},
        balance_transaction={"id": "txn_payout", "object": "balance_transaction"},
        failure_balance_transaction="txn_failure",
    )

    payout = payout_sync(obj=obj, source="test").payout

    payout.refresh_from_db()
    assert (payout.amount, payout.currency, payout.livemode) == (98765, "gbp", True)
    assert (payout.stripe_created, payout.arrival_date) == (at(1_700_000_000), at(1_700_086_400))
    assert (payout.method, payout.type, payout.description) == ("instant", "bank_account", "STRIPE PAYOUT")
    assert (payout.trace_id, payout.trace_id_status) == ("TRACE-42", "supported")
    assert (payout.balance_transaction_id, payout.failure_balance_transaction_id) == (
        "txn_payout",
        "txn_failure",
    )
    assert (payout.failure_code, payout.reconciliation_status, payout.automatic) == ("", "completed", True)


def test_a_payout_snapshot_with_fields_missing_is_kept_with_safe_defaults() -> None:
    obj = {"id": "po_sparse", "object": "payout", "currency": "gbp", "status": None, "amount": None}

    payout = payout_sync(obj=obj, source="test").payout

    payout.refresh_from_db()
    assert (payout.status, payout.amount, payout.automatic) == ("pending", 0, True)
    assert (payout.stripe_created, payout.arrival_date, payout.trace_id) == (None, None, "")
    assert (payout.balance_transaction_id, payout.reconciliation_status) == ("", "")


def test_a_balance_transaction_keeps_its_fees_dates_rate_and_source(fake_stripe: FakeStripe) -> None:
    charge = stripe_charge(amount=10000)
    line = charge_txn(
        charge,
        fee=320,
        currency="GBP",
        status="pending",
        description="Order 42",
        exchange_rate=0.857142857142857,
        created=1_700_000_000,
        available_on=1_700_172_800,
    )
    obj = fake_stripe.add_payout(stripe_payout(amount=line["net"], livemode=True), [line])
    payout_sync(obj=obj, source="test")

    payout_reconcile(payout_id=obj["id"])

    row = BalanceTransaction.objects.get(stripe_id=line["id"])
    assert (row.amount, row.fee, row.net, row.currency) == (10000, 320, 9680, "gbp")
    assert row.fee_details == [
        {"amount": 320, "currency": "gbp", "description": "Stripe processing fees", "type": "stripe_fee"}
    ]
    assert (row.stripe_created, row.available_on) == (at(1_700_000_000), at(1_700_172_800))
    assert row.exchange_rate == Decimal("0.857142857142857")
    assert (row.status, row.description, row.reporting_category) == ("pending", "Order 42", "charge")
    assert (row.source_id, row.source_kind, row.livemode) == (charge["id"], "charge", True)
    own = BalanceTransaction.objects.get(payout__stripe_id=obj["id"], type="payout")
    assert (own.source_id, own.source_kind, own.exchange_rate, own.fee_details) == (
        obj["id"],
        "payout",
        None,
        [],
    )


def test_a_payout_event_older_than_the_snapshot_we_hold_changes_nothing_and_says_so(
    process: Any, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture_reconciliations(monkeypatch, [])
    obj = stripe_payout(amount=5000, status="paid", description="SECOND DESCRIPTION")

    process(event("payout.paid", obj, created=2000))
    older = process(event("payout.updated", {**obj, "description": "FIRST DESCRIPTION"}, created=1500))

    assert Payout.objects.get(stripe_id=obj["id"]).description == "SECOND DESCRIPTION"
    assert older.status == "processed"
    assert older.last_error == f"{obj['id']} unchanged (stale or repeated snapshot)"


def test_a_payout_event_with_no_stripe_time_counts_as_just_fetched(
    process: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture_reconciliations(monkeypatch, [])
    obj = stripe_payout(amount=5000, status="in_transit")
    row = stored_event(event("payout.updated", obj, created=1000))
    StripeEvent.objects.filter(pk=row.pk).update(stripe_created=None)

    done = process(row)

    assert done.status == "processed" and done.last_error == ""
    assert Payout.objects.get(stripe_id=obj["id"]).status_at >= int(time.time()) - 60


def test_reconciliation_completed_queues_a_paid_payout_until_it_is_reconciled(
    process: Any, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[str] = []
    capture_reconciliations(monkeypatch, queued)
    obj = a_mixed_payout(fake_stripe)
    manual = stripe_payout(amount=100, automatic=False)
    in_transit = stripe_payout(amount=100, status="in_transit")

    # when: Stripe's completion comes with the same snapshot as the paid event before it
    process(event("payout.paid", obj, created=2000))
    process(event("payout.reconciliation_completed", obj, created=2000))
    # then: queued again (its first message may be lost), but never a manual or unpaid payout
    for other in (manual, in_transit):
        process(event("payout.reconciliation_completed", other, created=2000))
    assert queued == [obj["id"], obj["id"]]

    # and once reconciled, a repeated completion queues nothing more
    tasks.reconcile_payout(obj["id"])
    process(event("payout.reconciliation_completed", obj, created=2000))
    assert queued == [obj["id"], obj["id"]]


def test_lines_naming_their_source_by_id_alone_are_linked_through_our_refund_and_dispute_mirrors(
    fake_stripe: FakeStripe,
) -> None:
    # given a payout whose lines carry only source ids (not expanded): a refund we mirrored
    # before its order was known, and a dispute whose charge we never mirrored, known to the
    # order by its PaymentIntent; and an expanded refund whose order is named only by number
    refunded = OrderFactory(amount=4200, charge_id="ch_refunded_order")
    refund = RefundFactory(order=None, charge_id="ch_refunded_order", amount=1000)
    disputed = OrderFactory(amount=3000, payment_intent_id="pi_disputed")
    dispute = DisputeFactory(charge_id="ch_never_mirrored", payment_intent_id=None, amount=3000)
    Dispute.objects.filter(pk=dispute.pk).update(payment_intent_id="pi_disputed")
    named = OrderFactory(amount=2000)
    by_number = stripe_refund(
        amount=500, charge=None, payment_intent=None, metadata={"order_number": named.number}
    )
    lines = [
        stripe_txn(amount=-1000, type="refund", source=refund.stripe_id),
        stripe_txn(amount=-3000, type="adjustment", source=dispute.stripe_id, reporting_category="dispute"),
        refund_txn(by_number),
        stripe_txn(
            amount=-10, type="adjustment", source="txr_unknown", reporting_category="other_adjustment"
        ),
        # expanded, a source of a kind with no id prefix of ours is named by its object
        stripe_txn(amount=700, type="topup", source={"id": "tu_expanded", "object": "topup"}),
    ]
    obj = fake_stripe.add_payout(stripe_payout(amount=sum(line["net"] for line in lines)), lines)
    payout_sync(obj=obj, source="test")

    # when
    assert payout_reconcile(payout_id=obj["id"]).reconciled

    # then each line is on its order, and the unknown one on none, its kind left blank
    got = {
        line.source_id: (line.source_kind, line.order_id, line.refund_id, line.dispute_id)
        for line in BalanceTransaction.objects.exclude(type="payout")
    }
    assert got == {
        refund.stripe_id: ("refund", refunded.pk, refund.pk, None),
        dispute.stripe_id: ("dispute", disputed.pk, None, dispute.pk),
        by_number["id"]: ("refund", named.pk, None, None),
        "txr_unknown": ("", None, None, None),
        "tu_expanded": ("topup", None, None, None),
    }


def test_each_way_a_line_can_name_its_order_links_it_and_the_first_way_wins(fake_stripe: FakeStripe) -> None:
    # given: one line per way a balance transaction's source can lead to an order, each with
    # nothing else that would lead there, and two lines whose ways disagree
    order = {name: OrderFactory(amount=1000) for name in "abcdefghijklmnopqr"}
    orphan_charge = ChargeFactory(order=None, stripe_id="ch_mirror_without_order")
    Order.objects.filter(pk=order["n"].pk).update(charge_id=orphan_charge.stripe_id)
    for name, charge_id in {"b": "ch_b", "f": "ch_f", "m": "ch_m"}.items():
        Order.objects.filter(pk=order[name].pk).update(charge_id=charge_id)
    mirrored = {name: ChargeFactory(order=order[name], stripe_id=f"ch_mirror_{name}") for name in "aehjlr"}
    refund_g = RefundFactory(order=order["g"])
    refund_h = RefundFactory(order=None, charge_id="ch_mirror_h")
    refund_i = RefundFactory(order=None, payment_intent_id=order["i"].payment_intent_id)
    refund_q = RefundFactory(order=order["q"])
    dispute_l = DisputeFactory(charge_id="ch_mirror_l")
    pi = {name: order[name].payment_intent_id for name in order}
    sources: dict[str, Any] = {
        "a": stripe_charge(id="ch_mirror_a", amount=1000),
        "b": stripe_charge(id="ch_b", amount=1000),
        "c": stripe_charge(amount=1000, payment_intent=pi["c"]),
        "d": stripe_charge(amount=1000, metadata={"order_id": str(order["d"].pk)}),
        "e": "ch_mirror_e",
        "f": "ch_f",
        "g": refund_g.stripe_id,
        "h": refund_h.stripe_id,
        "i": refund_i.stripe_id,
        "j": stripe_refund(charge="ch_mirror_j", payment_intent=None),
        "k": stripe_refund(charge=None, payment_intent=pi["k"]),
        "l": dispute_l.stripe_id,
        "m": stripe_dispute(charge="ch_m", payment_intent=None),
        "n": stripe_charge(id=orphan_charge.stripe_id, amount=1000),
        # an order id in the metadata that is no order of ours: the PaymentIntent still leads
        "o": stripe_charge(amount=1000, payment_intent=pi["o"], metadata={"order_id": "999999"}),
        "p": stripe_charge(amount=1000, metadata={"order_number": order["p"].number}),
        # our refund mirror's order beats another order named in the refund's metadata
        "q": stripe_refund(
            id=refund_q.stripe_id, charge=None, payment_intent=None, metadata={"order_id": str(order["a"].pk)}
        ),
        # the charge's own metadata beats the order of its mirror
        "r": stripe_charge(id="ch_mirror_r", amount=1000, metadata={"order_id": str(order["b"].pk)}),
    }
    kinds = {"charge": "charge", "refund": "refund", "dispute": "adjustment"}
    lines = []
    for source in sources.values():
        kind = {"ch_": "charge", "re_": "refund", "dp_": "dispute"}[id_of(source)[:3]]
        lines.append(stripe_txn(amount=-100 if kind != "charge" else 1000, type=kinds[kind], source=source))
    obj = fake_stripe.add_payout(stripe_payout(amount=sum(line["net"] for line in lines)), lines)
    payout_sync(obj=obj, source="test")

    # when
    assert payout_reconcile(payout_id=obj["id"]).reconciled

    # then
    line = {name: BalanceTransaction.objects.get(source_id=id_of(source)) for name, source in sources.items()}
    expected = {name: order[name].pk for name in sources} | {"r": order["b"].pk}
    assert {name: line[name].order_id for name in sources} == expected
    # and a line is on the mirror of the charge it names, or of its refund's or dispute's charge
    linked = {
        name: (row.charge_id, row.refund_id, row.dispute_id)
        for name, row in line.items()
        if row.charge_id or row.refund_id or row.dispute_id
    }
    assert linked == {
        "a": (mirrored["a"].pk, None, None),
        "e": (mirrored["e"].pk, None, None),
        "g": (None, refund_g.pk, None),
        "h": (mirrored["h"].pk, refund_h.pk, None),
        "i": (None, refund_i.pk, None),
        "j": (mirrored["j"].pk, None, None),
        "l": (mirrored["l"].pk, None, dispute_l.pk),
        "n": (orphan_charge.pk, None, None),
        "q": (None, refund_q.pk, None),
        "r": (mirrored["r"].pk, None, None),
    }


def test_a_payout_snapshot_with_odd_fields_keeps_what_fits_and_makes_nothing_up() -> None:
    long = {
        "id": "po_long",
        "object": "payout",
        "amount": 100,
        "currency": "GBP",
        "status": "paid",
        "created": 0,  # no time at all, not 1970
        "arrival_date": 1,
        "method": "m" * 20,
        "type": "t" * 40,
        "description": "d" * 300,
        "trace_id": {"value": "v" * 300, "status": "s" * 40},
        "failure_code": "f" * 70,
    }
    odd = {"id": "po_odd", "object": "payout", "amount": 100, "currency": "gbp", "trace_id": "not an object"}
    unsure = {**odd, "id": "po_unsure", "trace_id": {"value": "T-1"}}

    payout_sync(obj=long, source="test")
    payout_sync(obj=odd, source="test")
    payout_sync(obj=unsure, source="test")

    kept = Payout.objects.get(stripe_id="po_long")
    assert (kept.currency, kept.stripe_created, kept.arrival_date) == ("gbp", None, at(1))
    assert (kept.method, kept.type, kept.description) == ("m" * 16, "t" * 32, "d" * 255)
    assert (kept.trace_id, kept.trace_id_status, kept.failure_code) == ("v" * 255, "s" * 32, "f" * 64)
    bare = Payout.objects.get(stripe_id="po_odd")
    assert (bare.method, bare.type, bare.description, bare.trace_id, bare.trace_id_status) == ("",) * 5
    # a trace without its status: none made up
    unsure_row = Payout.objects.get(stripe_id="po_unsure")
    assert (unsure_row.trace_id, unsure_row.trace_id_status) == ("T-1", "")


def test_a_balance_transaction_with_odd_fields_keeps_what_fits_and_makes_nothing_up(
    fake_stripe: FakeStripe,
) -> None:
    sparse = stripe_txn(amount=-10, type="adjustment", source=None)
    for name in ("type", "reporting_category", "status", "currency", "description"):
        sparse[name] = None
    long = stripe_txn(amount=-20, type="a" * 70, source=None, reporting_category="r" * 70)
    long.update(status="s" * 20, currency="EUR", description="d" * 300)  # kept as Stripe says, lower-case
    long["source"] = {"id": "x" * 300, "object": "k" * 70}  # expanded, of a kind we do not know
    obj = fake_stripe.add_payout(stripe_payout(amount=-30), [sparse, long])
    payout_sync(obj=obj, source="test")

    result = payout_reconcile(payout_id=obj["id"])

    # a line without a currency is in its payout's (a payout's lines all are): it still adds up
    assert (result.reconciled, result.lines) == (True, 3)
    fields = ("type", "reporting_category", "status", "currency", "description")
    got = {
        line.stripe_id: tuple(getattr(line, name) for name in fields)
        for line in BalanceTransaction.objects.all()
    }
    assert got[sparse["id"]] == ("", "", "", "gbp", "")
    assert got[long["id"]] == ("a" * 64, "r" * 64, "s" * 16, "eur", "d" * 255)
    cut = BalanceTransaction.objects.get(stripe_id=long["id"])
    assert (cut.source_id, cut.source_kind) == ("x" * 255, "k" * 64)
    assert all(line.synced_at is not None for line in BalanceTransaction.objects.all())
