"""Disputes from Stripe's test cards: funds withdrawn, evidence staged and submitted, magic outcomes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle

DAY = 86400


def _disputed(client: Any, card: str = "pm_card_createDispute", amount: int = 6000) -> tuple[Any, Any]:
    pi = client.v1.payment_intents.create(
        params={"amount": amount, "currency": "gbp", "payment_method": card, "confirm": True}
    )
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    return pi, dispute


def _types(client: Any) -> list[str]:
    events = client.v1.events.list(params={"limit": 100}).data
    return [e.type for e in reversed(events)]


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        ("pm_card_createDispute", "fraudulent"),
        ("pm_card_createDisputeProductNotReceived", "product_not_received"),
    ],
)
def test_dispute_card_opens_a_chargeback_and_withdraws_amount_and_fee(
    client: Any, stripe_emulator: EmulatorHandle, card: str, reason: str
) -> None:
    pi, dispute = _disputed(client, card)
    now = stripe_emulator.advance_clock(0)["now"]
    assert (dispute.reason, dispute.status, dispute.amount, dispute.charge) == (
        reason,
        "needs_response",
        6000,
        pi.latest_charge,
    )
    assert dispute.evidence_details.due_by > now and dispute.is_charge_refundable is False
    assert client.v1.charges.retrieve(pi.latest_charge).disputed is True
    (txn,) = dispute.balance_transactions
    assert (txn.type, txn.reporting_category, txn.amount, txn.fee, txn.net) == (
        "adjustment",
        "dispute",
        -6000,
        2000,
        -8000,
    )
    assert txn.source == dispute.id
    types = _types(client)
    assert types.index("charge.succeeded") < types.index("charge.dispute.created")
    assert types[-2:] == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]


def test_inquiry_card_opens_a_warning_without_withdrawing(client: Any) -> None:
    _, dispute = _disputed(client, "pm_card_createDisputeInquiry")
    assert dispute.status == "warning_needs_response" and dispute.balance_transactions == []
    assert dispute.payment_method_details.card.case_type == "inquiry"
    assert "charge.dispute.funds_withdrawn" not in _types(client)


def test_early_fraud_warning_card(client: Any) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "gbp",
            "payment_method": "pm_card_createIssuerFraudRecord",
            "confirm": True,
        }
    )
    (warning,) = client.v1.radar.early_fraud_warnings.list(params={"charge": pi.latest_charge}).data
    assert warning.actionable is True and warning.payment_intent == pi.id
    assert "radar.early_fraud_warning.created" in _types(client)
    assert client.v1.disputes.list().data == []


def test_staged_evidence_then_winning_submission(client: Any, stripe_emulator: EmulatorHandle) -> None:
    _, dispute = _disputed(client)
    staged = client.v1.disputes.update(
        dispute.id,
        params={
            "evidence": {"customer_name": "A. Customer", "uncategorized_text": "winning_evidence"},
            "submit": False,
        },
        options={"idempotency_key": "stage-1"},
    )
    assert staged.status == "needs_response"
    assert staged.evidence_details.has_evidence is True and staged.evidence_details.submission_count == 0
    assert staged.evidence.customer_name == "A. Customer"
    updated = client.v1.events.list(params={"type": "charge.dispute.updated"}).data[0]
    assert updated.data.previous_attributes.to_dict()["evidence"]["customer_name"] is None

    submitted = client.v1.disputes.update(dispute.id, params={"submit": True})
    assert submitted.status == "under_review" and submitted.evidence_details.submission_count == 1
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.update(dispute.id, params={"evidence": {"customer_name": "Someone else"}})

    stripe_emulator.advance_clock(3600)
    won = client.v1.disputes.retrieve(dispute.id)
    assert won.status == "won"
    _withdrawn, reinstated = won.balance_transactions
    assert (reinstated.reporting_category, reinstated.amount, reinstated.fee, reinstated.net) == (
        "dispute_reversal",
        6000,
        -2000,
        8000,
    )
    assert _types(client)[-2:] == ["charge.dispute.closed", "charge.dispute.funds_reinstated"]
    closed = client.v1.events.list(params={"type": "charge.dispute.closed"}).data[0]
    assert closed.data.previous_attributes.to_dict() == {"status": "under_review"}


def test_losing_evidence_loses(client: Any, stripe_emulator: EmulatorHandle) -> None:
    _, dispute = _disputed(client)
    client.v1.disputes.update(dispute.id, params={"evidence": {"uncategorized_text": "losing_evidence"}})
    stripe_emulator.advance_clock(3600)
    lost = client.v1.disputes.retrieve(dispute.id)
    assert lost.status == "lost" and len(lost.balance_transactions) == 1
    assert "charge.dispute.funds_reinstated" not in _types(client)


def test_close_accepts_the_dispute(client: Any) -> None:
    _, dispute = _disputed(client)
    closed = client.v1.disputes.close(dispute.id, options={"idempotency_key": "close-1"})
    assert closed.status == "lost"
    again = client.v1.disputes.close(dispute.id, options={"idempotency_key": "close-1"})
    assert again.status == "lost"  # replayed, not refused
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.disputes.close(dispute.id)
    assert "already closed" in str(exc.value.user_message)


def test_due_date_passes_with_the_clock(client: Any, stripe_emulator: EmulatorHandle) -> None:
    _, dispute = _disputed(client)
    now = stripe_emulator.advance_clock(0)["now"]
    stripe_emulator.advance_clock(dispute.evidence_details.due_by - now + 1)
    late = client.v1.disputes.retrieve(dispute.id)
    assert late.evidence_details.past_due is True and late.status == "needs_response"
    event = client.v1.events.list(params={"type": "charge.dispute.updated"}).data[0]
    assert event.data.previous_attributes.to_dict() == {"evidence_details": {"past_due": False}}


def test_list_filters_by_charge_and_payment_intent(client: Any) -> None:
    first, one = _disputed(client)
    second, two = _disputed(client, "pm_card_createDisputeInquiry")
    assert [d.id for d in client.v1.disputes.list(params={"charge": first.latest_charge}).data] == [one.id]
    assert [d.id for d in client.v1.disputes.list(params={"payment_intent": second.id}).data] == [two.id]
    assert [d.id for d in client.v1.disputes.list().data] == [two.id, one.id]


def test_refunding_a_charged_back_charge_is_refused(client: Any) -> None:
    pi, _ = _disputed(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert exc.value.code == "charge_disputed"
    assert f"Charge {pi.latest_charge} has been charged back" in str(exc.value.user_message)


def test_refunding_an_inquiry_closes_it(client: Any) -> None:
    pi, dispute = _disputed(client, "pm_card_createDisputeInquiry")
    client.v1.refunds.create(params={"payment_intent": pi.id})
    assert client.v1.disputes.retrieve(dispute.id).status == "warning_closed"


def test_evidence_files_must_exist(client: Any) -> None:
    _, dispute = _disputed(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.disputes.update(
            dispute.id, params={"evidence": {"receipt": "file_missing"}, "submit": False}
        )
    assert exc.value.param == "evidence[receipt]"
    assert client.v1.disputes.retrieve(dispute.id).evidence_details.has_evidence is False


def test_any_captured_charge_can_be_disputed_on_demand(client: Any, stripe_emulator: EmulatorHandle) -> None:
    pi = client.v1.payment_intents.create(
        params={"amount": 5000, "currency": "gbp", "payment_method": "pm_card_gb", "confirm": True}
    )
    opened = stripe_emulator.open_dispute(pi.latest_charge, reason="duplicate", amount=2000)
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert (dispute.reason, dispute.amount, dispute.status) == ("duplicate", 2000, "needs_response")
    assert dispute.balance_transactions[0].net == -2000 - 2000
    inquiry = stripe_emulator.open_dispute(pi.latest_charge, inquiry=True)
    assert inquiry["status"] == "warning_needs_response" and inquiry["amount"] == 5000
    with pytest.raises(AssertionError, match="reason must be one of"):
        stripe_emulator.open_dispute(pi.latest_charge, reason="bored")


def test_decision_at_once_when_the_account_says_so(client: Any, stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.configure_account(dispute_decision_seconds=0)
    _, dispute = _disputed(client)
    answer = client.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    assert answer.status == "won" and answer.evidence_details.submission_count == 1
