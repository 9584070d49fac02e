"""The dispute and early fraud warning mirrors, kept from charge.dispute.* and
radar.early_fraud_warning.* events through the handler table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail

from disputes.models import Dispute, EarlyFraudWarning
from disputes.services import dispute_sync
from orders.models import Order
from payments.handlers import HANDLERS
from payments.models import StripeEvent
from tests.disputes.factories import NOW, ChargeFactory, dispute_object, efw_object, paid_order
from tests.factories import event

pytestmark = pytest.mark.django_db

Process = Callable[..., StripeEvent]


@pytest.fixture(autouse=True)
def _alerts(alert_settings: Any) -> None:
    pass


def test_every_dispute_and_fraud_warning_event_type_is_in_the_handler_table() -> None:
    for kind in (
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "radar.early_fraud_warning.created",
        "radar.early_fraud_warning.updated",
    ):
        assert kind in HANDLERS


def test_a_new_dispute_is_mirrored_with_its_links_and_the_order_becomes_disputed(
    process: Process, fake_stripe: Any, evidence_queued: list[int]
) -> None:
    # given a paid order and its charge
    order = paid_order()
    charge = ChargeFactory(order=order)
    obj = dispute_object(charge, status="needs_response", reason="fraudulent")
    fake_stripe.add(obj)

    # when Stripe says a dispute was opened
    row = process(event("charge.dispute.created", obj, created=NOW - 50))

    # then
    assert row.status == StripeEvent.Status.PROCESSED
    dispute = Dispute.objects.get(stripe_id=obj["id"])
    assert dispute.charge == charge
    assert dispute.order == order
    assert dispute.payment_intent_id == order.payment_intent_id
    assert (dispute.status, dispute.reason, dispute.amount, dispute.currency) == (
        "needs_response",
        "fraudulent",
        order.amount,
        "gbp",
    )
    assert (
        dispute.evidence_due_by is not None
        and int(dispute.evidence_due_by.timestamp()) == obj["evidence_details"]["due_by"]
    )
    assert dispute.network_reason_code == "10.4"
    assert dispute.case_type == "chargeback"
    assert dispute.is_charge_refundable is True
    assert dispute.submission_count == 0 and dispute.past_due is False
    # staged on Stripe by the task queued on commit, with no one touching it
    assert dispute.has_evidence is True
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    # one alert, ids only
    assert [m.subject for m in mail.outbox] == [
        f"[payments] Dispute {obj['id']} opened on order {order.number}: fraudulent, needs_response, "
        f"evidence due {dispute.evidence_due_by:%Y-%m-%d %H:%M} UTC"
    ]
    # the evidence task was queued on commit
    assert evidence_queued == [dispute.pk]


def test_the_order_is_found_from_the_charge_id_when_the_charge_mirror_is_not_there_yet(
    process: Process, fake_stripe: Any, evidence_queued: list[int]
) -> None:
    order = paid_order()
    order.charge_id = f"ch_for_{order.payment_intent_id}"
    order.save()
    charge = ChargeFactory.build(order=order)  # never saved: the Charge sync has not run yet
    obj = dispute_object(charge, payment_intent=None)
    fake_stripe.add(obj)

    process(event("charge.dispute.created", obj))

    dispute = Dispute.objects.select_related("charge").get(stripe_id=obj["id"])
    assert dispute.order == order
    assert dispute.charge_id == charge.stripe_id and dispute.charge is None
    # the link is live as soon as the Charge row arrives
    saved = ChargeFactory(order=order)
    assert Dispute.objects.get(stripe_id=obj["id"]).charge == saved


def test_closing_shows_the_outcome_and_a_closed_dispute_is_final(
    process: Process, fake_stripe: Any, evidence_queued: list[int]
) -> None:
    order = paid_order()
    charge = ChargeFactory(order=order)
    opened = dispute_object(charge, status="needs_response")
    fake_stripe.add(opened)
    process(event("charge.dispute.created", opened, created=NOW - 50))

    won = {**opened, "status": "won"}
    process(event("charge.dispute.closed", won, created=NOW - 10))
    # a stale "updated" (delivered late) and a duplicate of the created event change nothing
    process(event("charge.dispute.updated", {**opened, "status": "under_review"}, created=NOW - 30))
    process(event("charge.dispute.created", opened, created=NOW - 50))

    dispute = Dispute.objects.get(stripe_id=opened["id"])
    assert dispute.status == "won"
    assert dispute.closed_at is not None
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    assert [d.status for d in order.disputes.all()] == ["won"]
    subjects = [m.subject for m in mail.outbox]
    assert f"[payments] Dispute {opened['id']} on order {order.number} closed: won" in subjects
    assert len([s for s in subjects if "closed" in s]) == 1
    assert len([s for s in subjects if "opened" in s]) == 1


def test_a_stale_snapshot_of_the_same_status_changes_nothing() -> None:
    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(charge, status="needs_response")
    dispute_sync(
        obj={**obj, "evidence_details": {**obj["evidence_details"], "has_evidence": True}}, seen_at=NOW
    )

    result = dispute_sync(obj=obj, seen_at=NOW - 100)

    assert result.changed is False
    assert Dispute.objects.get(stripe_id=obj["id"]).has_evidence is True


def test_an_inquiry_can_become_a_chargeback_but_not_back(
    fake_stripe: Any, evidence_queued: list[int]
) -> None:
    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(charge, status="warning_needs_response")
    dispute_sync(obj=obj, seen_at=NOW - 50)

    dispute_sync(obj={**obj, "status": "needs_response"}, seen_at=NOW - 40)
    dispute_sync(obj={**obj, "status": "warning_under_review"}, seen_at=NOW - 10)

    assert Dispute.objects.get(stripe_id=obj["id"]).status == "needs_response"


def test_funds_events_update_the_mirror(
    process: Process, fake_stripe: Any, evidence_queued: list[int]
) -> None:
    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(charge, status="needs_response", is_charge_refundable=True)
    fake_stripe.add(obj)
    process(event("charge.dispute.created", obj, created=NOW - 50))

    # (Stripe's copy changes too, and the event comes after our staging call's answer)
    fake_stripe.disputes[obj["id"]]["is_charge_refundable"] = False
    withdrawn = {**fake_stripe.disputes[obj["id"]]}
    row = process(event("charge.dispute.funds_withdrawn", withdrawn, created=int(time.time()) + 2))

    assert row.status == StripeEvent.Status.PROCESSED
    assert Dispute.objects.get(stripe_id=obj["id"]).is_charge_refundable is False


def test_a_dispute_on_a_charge_we_do_not_know_is_mirrored_without_an_order(process: Process) -> None:
    charge = ChargeFactory.build(
        order=None, stripe_id="ch_unknown", amount=500, amount_captured=500, currency="usd"
    )
    obj = dispute_object(charge)

    row = process(event("charge.dispute.created", obj))

    assert row.status == StripeEvent.Status.PROCESSED
    assert row.last_error == "dispute mirrored; no order matches its charge"
    assert Dispute.objects.get(stripe_id=obj["id"]).order is None


def test_an_early_fraud_warning_is_mirrored_linked_and_alerted_once(process: Process) -> None:
    order = paid_order()
    charge = ChargeFactory(order=order)
    obj = efw_object(charge, fraud_type="made_with_stolen_card", actionable=True)

    process(event("radar.early_fraud_warning.created", obj, created=NOW - 50))
    process(event("radar.early_fraud_warning.created", obj, created=NOW - 50))
    process(event("radar.early_fraud_warning.updated", {**obj, "actionable": False}, created=NOW - 10))

    warning = EarlyFraudWarning.objects.get(stripe_id=obj["id"])
    assert warning.order == order and warning.charge_id == charge.stripe_id
    assert warning.fraud_type == "made_with_stolen_card"
    assert warning.actionable is False
    assert [m.subject for m in mail.outbox] == [
        f"[payments] Early fraud warning {obj['id']} on order {order.number}, charge {charge.stripe_id}: "
        "made_with_stolen_card, actionable: a refund now avoids a dispute"
    ]


def test_a_dispute_event_can_be_re_synced_from_stripe(fake_stripe: Any, evidence_queued: list[int]) -> None:
    from payments.services.objects import stripe_object_resync

    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(charge, status="needs_response")
    dispute_sync(obj=obj, seen_at=NOW - 50)
    fake_stripe.add({**obj, "status": "won"})  # what Stripe has now

    result = stripe_object_resync(object_id=obj["id"])

    assert result.order == charge.order
    assert Dispute.objects.get(stripe_id=obj["id"]).status == "won"
