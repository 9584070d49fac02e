"""The dispute and early fraud warning mirrors, kept from charge.dispute.* and
radar.early_fraud_warning.* events through the handler table."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import TestCase

from disputes.models import Dispute, EarlyFraudWarning
from disputes.services import dispute_resync, dispute_sync, early_fraud_warning_sync
from orders.models import Order
from payments import alerts
from payments.handlers import HANDLERS
from payments.models import StaffAction, StripeEvent
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
    assert (row.status, row.last_error) == (StripeEvent.Status.PROCESSED, "")
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
    assert dispute.closed_at is None  # open: not closed
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


def test_an_early_fraud_warning_is_mirrored_whole_and_found_by_its_payment_intent(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given a paid order whose charge is neither mirrored nor stored on the order yet
    order = paid_order()
    charge = ChargeFactory.build(order=order, stripe_id="ch_not_mirrored_yet")
    fraud_type = "made_with_stolen_card_" + "x" * 50  # over our 64 characters
    obj = efw_object(
        charge,
        payment_intent={"id": order.payment_intent_id, "object": "payment_intent"},
        fraud_type=fraud_type,
        actionable=True,
        livemode=True,
    )
    obj["created"] = 1764000000

    # when Stripe's warning is mirrored
    with django_capture_on_commit_callbacks(execute=True):
        returned = early_fraud_warning_sync(obj=obj, seen_at=NOW - 50)

    # then the mirror holds the warning as Stripe sent it, linked to the order
    warning = EarlyFraudWarning.objects.get(stripe_id=obj["id"])
    assert returned == warning
    assert returned.stripe_created == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert {
        "charge_id": warning.charge_id,
        "payment_intent_id": warning.payment_intent_id,
        "order": warning.order,
        "fraud_type": warning.fraud_type,
        "actionable": warning.actionable,
        "livemode": warning.livemode,
        "stripe_created": warning.stripe_created,
        "status_at": warning.status_at,
    } == {
        "charge_id": "ch_not_mirrored_yet",
        "payment_intent_id": order.payment_intent_id,
        "order": order,
        "fraud_type": fraud_type[:64],
        "actionable": True,
        "livemode": True,
        "stripe_created": datetime(2025, 11, 24, 16, 0, tzinfo=UTC),
        "status_at": NOW - 50,
    }
    assert warning.synced_at is not None
    # and staff get one alert, with the ids in its body
    (alert,) = mail.outbox
    said = (
        f"Early fraud warning {obj['id']} on order {order.number}, charge ch_not_mirrored_yet: "
        f"{fraud_type[:64]}, actionable: a refund now avoids a dispute"
    )
    assert alert.subject == f"[payments] {said}"[:200]
    assert alert.body == (
        f"{said}\n\nearly_fraud_warning: {obj['id']}\norder: {order.number}\ncharge: ch_not_mirrored_yet"
    )


def test_early_fraud_warning_events_apply_forward_only_and_alert_when_it_becomes_actionable(
    process: Process,
) -> None:
    # given a warning on a charge we do not know, with no type yet, not actionable
    charge = ChargeFactory.build(
        order=None, stripe_id="ch_unknown_efw", amount=500, amount_captured=500, currency="usd"
    )
    obj = efw_object(charge, actionable=False)
    del obj["fraud_type"]
    process(event("radar.early_fraud_warning.created", obj, created=NOW - 50))
    first_sync = EarlyFraudWarning.objects.get(stripe_id=obj["id"]).synced_at
    assert first_sync is not None

    # when it becomes actionable, with a type
    fraud_type = "made_with_stolen_card_" + "y" * 50
    actionable = {**obj, "actionable": True, "fraud_type": fraud_type}
    process(event("radar.early_fraud_warning.updated", actionable, created=NOW - 10))
    # and an older snapshot arrives late
    process(event("radar.early_fraud_warning.updated", {**obj, "fraud_type": "misc"}, created=NOW - 30))

    # then the older snapshot changed nothing
    warning = EarlyFraudWarning.objects.get(stripe_id=obj["id"])
    assert (warning.actionable, warning.fraud_type, warning.status_at) == (True, fraud_type[:64], NOW - 10)
    assert warning.synced_at is not None and warning.synced_at >= first_sync
    assert warning.order is None and warning.payment_intent_id == ""
    # and staff heard twice: when it arrived, and when it became actionable
    ids = f"early_fraud_warning: {obj['id']}\norder: (no order)\ncharge: ch_unknown_efw"
    arrived = (
        f"Early fraud warning {obj['id']} on order (no order), charge ch_unknown_efw: no type, not actionable"
    )
    became = (
        f"Early fraud warning {obj['id']} on order (no order), charge ch_unknown_efw: {fraud_type[:64]}, "
        "actionable: a refund now avoids a dispute"
    )
    assert [(m.subject, m.body) for m in mail.outbox] == [
        (f"[payments] {arrived}", f"{arrived}\n\n{ids}"),
        (f"[payments] {became}"[:200], f"{became}\n\n{ids}"),
    ]

    # when a second snapshot of the same second says it is no longer actionable, it applies
    process(event("radar.early_fraud_warning.updated", {**obj, "fraud_type": "misc"}, created=NOW - 10))

    warning.refresh_from_db()
    assert (warning.actionable, warning.fraud_type) == (False, "misc")
    assert len(mail.outbox) == 2


def test_a_late_created_event_does_not_undo_a_newer_snapshot(process: Process) -> None:
    order = paid_order()
    obj = efw_object(ChargeFactory(order=order), fraud_type="misc", actionable=True)
    process(event("radar.early_fraud_warning.updated", {**obj, "actionable": False}, created=NOW - 10))
    mail.outbox.clear()

    process(event("radar.early_fraud_warning.created", obj, created=NOW - 50))

    warning = EarlyFraudWarning.objects.get(stripe_id=obj["id"])
    assert (warning.actionable, warning.status_at) == (False, NOW - 10)
    assert mail.outbox == []


def test_staff_re_sync_applies_what_stripe_has_now_and_is_audited(
    fake_stripe: Any, evidence_queued: list[int], support_user: User
) -> None:
    # given a mirrored dispute that Stripe has closed meanwhile (its event lost)
    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(charge, status="needs_response")
    dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute
    fake_stripe.add({**obj, "status": "won"})

    # when Support re-syncs it, and a job re-syncs it too
    result = dispute_resync(dispute=dispute, actor=support_user)
    again = dispute_resync(dispute=dispute)

    # then
    assert (result.dispute.status, result.closed) == ("won", True)
    assert again.changed is False
    assert Dispute.objects.get(pk=dispute.pk).status == "won"
    assert fake_stripe.calls_of("dispute_retrieve") == [{"dispute_id": obj["id"]}] * 2
    assert list(StaffAction.objects.values_list("actor", "action", "target", "outcome")) == [
        (support_user.pk, "resync", obj["id"], "won")
    ]


def test_a_late_dispute_event_of_the_same_status_does_not_undo_a_newer_one(
    process: Process, fake_stripe: Any, evidence_queued: list[int]
) -> None:
    charge = ChargeFactory(order=paid_order())
    obj = fake_stripe.add(dispute_object(charge, status="needs_response", is_charge_refundable=True))
    process(event("charge.dispute.created", obj, created=NOW - 50))
    # (after the evidence task's staging answer, which the mirror applied as of now)
    later = int(time.time()) + 20
    process(event("charge.dispute.funds_withdrawn", {**obj, "is_charge_refundable": False}, created=later))

    process(event("charge.dispute.updated", obj, created=later - 10))

    assert Dispute.objects.get(stripe_id=obj["id"]).is_charge_refundable is False


def test_a_dispute_first_seen_without_its_payment_intent_gets_it_from_a_later_snapshot() -> None:
    # given a dispute mirrored from a snapshot that named no PaymentIntent (and a later one that
    # names another, which must not replace the first one we recorded)
    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(charge, status="needs_response", has_evidence=False)
    first = dispute_sync(obj={**obj, "payment_intent": None}, seen_at=NOW - 100)
    assert first.dispute.payment_intent_id is None

    # when a later snapshot names it, then it is recorded, as a change, and kept
    later = dispute_sync(obj={**obj, "payment_intent": {"id": "pi_named_later"}}, seen_at=NOW)
    again = dispute_sync(obj={**obj, "payment_intent": "pi_other"}, seen_at=NOW + 1)

    mirror = Dispute.objects.get(stripe_id=obj["id"])
    assert (later.changed, again.changed) == (True, False)
    assert mirror.payment_intent_id == "pi_named_later"
    assert mirror.synced_at is not None and mirror.status_at == NOW + 1


def test_a_new_dispute_mirrors_every_field_of_stripes_snapshot_before_anything_else_runs() -> None:
    # given a live-mode snapshot with every field finance reads, some longer than their columns
    charge = ChargeFactory(order=paid_order())
    obj = dispute_object(
        charge,
        status="warning_needs_response",
        reason="r" * 70,
        past_due=True,
        livemode=True,
        currency="GBP",
        payment_intent={"id": charge.order.payment_intent_id, "object": "payment_intent"},
        enhanced_eligibility_types=["visa_compelling_evidence_3"],
    )
    card = obj["payment_method_details"]["card"]
    card.update(brand="b" * 40, case_type="c" * 40, network_reason_code="n" * 40)

    # when it is mirrored (no task, no later re-sync)
    result = dispute_sync(obj=obj, seen_at=NOW - 50)

    # then the mirror holds it all
    mirror = Dispute.objects.get(pk=result.dispute.pk)
    assert result.created is True and mirror.order == charge.order
    assert (mirror.livemode, mirror.payment_intent_id, mirror.status_at) == (
        True,
        charge.order.payment_intent_id,
        NOW - 50,
    )
    assert mirror.stripe_created == datetime.fromtimestamp(obj["created"], tz=UTC)
    assert mirror.synced_at is not None
    assert (mirror.reason, mirror.currency, mirror.past_due) == ("r" * 64, "gbp", True)
    assert (mirror.card_brand, mirror.case_type, mirror.network_reason_code) == ("b" * 32, "c" * 32, "n" * 32)
    assert mirror.enhanced_eligibility_types == ["visa_compelling_evidence_3"]


def test_a_bare_snapshot_mirrors_empty_fields_and_an_unknown_status_is_refused_by_name() -> None:
    obj = dispute_object(ChargeFactory(order=paid_order()), status="needs_response")
    obj.update(reason=None, amount=None, currency=None, created=None, payment_method_details={})
    obj.update(charge="ch_unknown", payment_intent=None)  # a charge of no order of ours
    obj["network_reason_code"] = "4837"  # older API versions carry it on the dispute itself

    mirror = dispute_sync(obj=obj, seen_at=NOW).dispute

    assert (mirror.reason, mirror.amount, mirror.currency, mirror.stripe_created) == ("", 0, "", None)
    assert (mirror.card_brand, mirror.case_type, mirror.network_reason_code) == ("", "", "4837")
    assert (mirror.livemode, mirror.payment_intent_id) == (False, None)
    # without a network reason code anywhere: none, nothing made up
    del obj["network_reason_code"]
    assert dispute_sync(obj={**obj, "id": "du_bare2"}, seen_at=NOW).dispute.network_reason_code == ""
    for status, shown in ((None, "''"), ("reversed", "'reversed'")):
        with pytest.raises(ValueError, match=f"^unknown dispute status {shown}$"):
            dispute_sync(obj={**obj, "status": status})


def test_the_opened_and_closed_alerts_of_a_dispute_with_no_order_reason_or_deadline_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(alerts, "alert_send", lambda *, kind, message, ids: sent.append((kind, message, ids)))
    # a dispute whose metadata names an order: only its charge or PaymentIntent may link it
    obj = dispute_object(ChargeFactory(order=paid_order()), status="needs_response", due_in=0)
    obj.update(
        charge="ch_unknown", payment_intent=None, reason=None, metadata={"order_id": str(paid_order().pk)}
    )

    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute_sync(obj=obj, seen_at=NOW - 10)
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispute_sync(obj={**obj, "status": "lost"}, seen_at=NOW)

    ids = {"dispute": obj["id"], "order": "(no order)", "charge": "ch_unknown"}
    assert sent == [
        (
            "dispute_opened",
            f"Dispute {obj['id']} opened on order (no order): no reason, needs_response, "
            "evidence due no deadline",
            ids,
        ),
        ("dispute_closed", f"Dispute {obj['id']} on order (no order) closed: lost", ids),
    ]
    assert Dispute.objects.get(stripe_id=obj["id"]).order is None
