"""A dispute from the test card to its outcome with nothing run by hand but Finance's submit:
the emulator delivers its signed events to the live server, a real Celery worker (Redis,
PostgreSQL) drains them, mirrors the dispute, builds and stages its evidence on the emulator,
and later mirrors the bank's decision."""

from __future__ import annotations

from typing import Any

import pytest

from disputes.models import Dispute, EvidenceDraft
from disputes.services import dispute_evidence_submit
from orders.models import Order
from tests.disputes.e2e_support import FRAUD_CARD, pay, shop_order
from tests.e2e_support import Worker, open_events, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]


def test_the_worker_mirrors_the_dispute_stages_its_evidence_and_mirrors_the_outcome(
    emulator: Any, dispute_worker: Worker, finance_user: Any
) -> None:
    order = shop_order()
    pay(emulator, order, FRAUD_CARD)

    def staged() -> bool:
        return EvidenceDraft.objects.filter(dispute__order=order, staged_at__isnull=False).exists()

    wait_until(staged, 60, "the worker to stage the evidence", dispute_worker)
    dispute = Dispute.objects.get(order=order)
    stripe_dispute = emulator.client().v1.disputes.retrieve(dispute.stripe_id)
    assert stripe_dispute.evidence_details.has_evidence is True
    assert stripe_dispute.evidence.receipt is not None
    assert Order.objects.get(pk=order.pk).status == Order.Status.DISPUTED

    dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="winning_evidence")
    emulator.advance_clock(61)

    def won() -> bool:
        return Dispute.objects.filter(pk=dispute.pk, status="won").exists() and open_events() == 0

    wait_until(won, 60, "the worker to mirror the bank's decision", dispute_worker)
    assert emulator.wait_for_deliveries(timeout=10)
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 2
    assert Dispute.objects.get(pk=dispute.pk).submission_count == 1
