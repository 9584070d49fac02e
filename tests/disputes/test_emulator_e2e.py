"""Disputes end to end against the Stripe emulator: its dispute test cards open real disputes,
their signed events reach our webhook endpoint on the live server, are stored and processed
(drained in this process; the worker is under test in test_worker_e2e.py), the evidence is
staged on the emulator with nobody touching it, and Finance's actions go to the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from disputes.models import Dispute, EvidenceDraft
from disputes.services import dispute_evidence_submit
from orders.models import Order
from payments.models import StripeEvent
from reconciliation.models import BalanceTransaction, Payout
from reconciliation.services.payouts import payout_reconcile
from tests.disputes.e2e_support import FRAUD_CARD, pay, settle, shop_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fraudulent_dispute_is_mirrored_and_its_evidence_staged_with_nobody_touching_it(
    wired: Any, evidence_queued: list[int]
) -> None:
    order = shop_order()
    pay(wired, order, FRAUD_CARD)
    settle(wired)

    dispute = Dispute.objects.get()
    stripe_dispute = wired.client().v1.disputes.retrieve(dispute.stripe_id)
    assert dispute.stripe_id.startswith("dp_")
    assert (dispute.order_id, dispute.status, dispute.reason) == (order.pk, "needs_response", "fraudulent")
    assert dispute.amount == 4200 and dispute.charge_id == stripe_dispute.charge
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    draft = EvidenceDraft.objects.get(dispute=dispute)
    assert draft.staged_at is not None and draft.problem == ""
    assert stripe_dispute.evidence_details.has_evidence is True
    assert stripe_dispute.evidence_details.submission_count == 0
    assert stripe_dispute.evidence.customer_email_address == order.email
    receipt = wired.client().v1.files.retrieve(stripe_dispute.evidence.receipt)
    assert receipt.purpose == "dispute_evidence"
    assert (
        not StripeEvent.objects.exclude(status=StripeEvent.Status.PROCESSED)
        .exclude(status=StripeEvent.Status.IGNORED)
        .exists()
    )


def opened_dispute(wired: Any, card: str = FRAUD_CARD) -> tuple[Order, Dispute]:
    order = shop_order()
    pay(wired, order, card)
    settle(wired)
    order.refresh_from_db()
    return order, Dispute.objects.get(order=order)


def test_finance_submits_winning_evidence_the_dispute_is_won_and_the_ledger_shows_the_money_back(
    wired: Any, evidence_queued: list[int], finance_user: Any
) -> None:
    order, dispute = opened_dispute(wired)

    dispute = dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="winning_evidence")
    settle(wired)
    assert Dispute.objects.get(pk=dispute.pk).status == "under_review"
    wired.advance_clock(61)  # the bank decides a minute later (the account's decision time)
    settle(wired)

    dispute.refresh_from_db()
    assert (dispute.status, dispute.submission_count) == ("won", 1)
    assert dispute.closed_at is not None
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    # the money: paid out days later, the payout's lines mirrored and linked to the order
    wired.advance_clock(4 * 86400)
    settle(wired)
    (payout,) = Payout.objects.filter(status=Payout.Status.PAID)
    assert payout_reconcile(payout_id=payout.stripe_id).reconciled
    lines = {
        row.reporting_category: (row.amount, row.fee, row.net, row.dispute_id)
        for row in BalanceTransaction.objects.filter(order=order)
    }
    assert lines["dispute"] == (-4200, 2000, -6200, dispute.pk)
    assert lines["dispute_reversal"] == (4200, -2000, 6200, dispute.pk)
    assert lines["charge"][0] == 4200
    assert payout.amount == lines["charge"][2]


def test_finance_submits_losing_evidence_and_the_dispute_is_lost(
    wired: Any, evidence_queued: list[int], finance_user: Any
) -> None:
    order, dispute = opened_dispute(wired)

    dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="losing_evidence")
    wired.advance_clock(61)
    settle(wired)

    dispute.refresh_from_db()
    assert (dispute.status, dispute.submission_count) == ("lost", 1)
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    events = StripeEvent.objects.filter(type__startswith="charge.dispute.")
    assert set(events.values_list("type", flat=True)) == {
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.updated",
        "charge.dispute.closed",
    }
