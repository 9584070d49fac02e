"""Disputes end to end against the Stripe emulator: its dispute test cards open real disputes,
their signed events reach our webhook endpoint on the live server, are stored and processed
(drained in this process; the worker is under test in test_worker_e2e.py), the evidence is
staged on the emulator with nobody touching it, and Finance's actions go to the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from disputes.evidence import ERROR_FIELD_TOO_LONG
from disputes.models import DeadlineWarning, Dispute, EarlyFraudWarning, EvidenceDraft
from disputes.services import (
    DisputeActionRefused,
    dispute_deadlines_check,
    dispute_evidence_revise,
    dispute_evidence_submit,
    dispute_refund_inquiry,
)
from orders.models import Order
from payments.models import Refund, StripeEvent
from reconciliation.models import BalanceTransaction, Payout
from reconciliation.services.payouts import payout_reconcile
from tests.disputes.e2e_support import FRAUD_CARD, INQUIRY_CARD, pay, settle, shop_order

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
    wired: Any, evidence_queued: list[int], finance_user: Any, admin_client: Any
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
    # and the order's page shows the dispute's outcome and that money, in its payout
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert f"{dispute.stripe_id} · won" in page
    assert "<td>dispute</td><td>-£42.00</td><td>£20.00</td><td>-£62.00</td>" in page
    assert "<td>dispute_reversal</td><td>£42.00</td><td>-£20.00</td><td>£62.00</td>" in page
    assert f">{payout.stripe_id}</a> · paid" in page


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


def test_an_inquiry_is_answered_with_a_refund_and_closes(
    wired: Any, evidence_queued: list[int], finance_user: Any
) -> None:
    order, dispute = opened_dispute(wired, INQUIRY_CARD)
    assert (dispute.status, dispute.case_type, dispute.is_charge_refundable) == (
        "warning_needs_response",
        "inquiry",
        True,
    )

    dispute = dispute_refund_inquiry(dispute=dispute, user=finance_user)
    settle(wired)

    dispute.refresh_from_db()
    assert dispute.status == "warning_closed" and dispute.refund_id.startswith("re_")
    refund = Refund.objects.get(stripe_id=dispute.refund_id)
    assert (refund.status, refund.amount) == ("succeeded", 4200)
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.DISPUTED, 4200)
    stripe_dispute = wired.client().v1.disputes.retrieve(dispute.stripe_id)
    assert stripe_dispute.status == "warning_closed"
    assert stripe_dispute.evidence_details.submission_count == 0


def test_dispute_events_duplicated_and_out_of_order_leave_one_dispute_one_draft_and_its_outcome(
    wired: Any, evidence_queued: list[int], finance_user: Any, mailoutbox: list[Any]
) -> None:
    wired.set_faults(duplicate_rate=1.0, reorder_window=6, double_event_rate=0.5)
    order, dispute = opened_dispute(wired)
    dispute_evidence_submit(dispute=dispute, user=finance_user, extra_text="winning_evidence")
    wired.advance_clock(61)
    settle(wired)

    assert Dispute.objects.count() == 1
    dispute.refresh_from_db()
    assert (dispute.status, dispute.submission_count) == ("won", 1)
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 2  # the staged one, and the one sent
    deliveries = [d for d in wired.deliveries() if d["type"].startswith("charge.dispute.")]
    assert any(d["duplicate"] for d in deliveries), "no event was delivered twice"
    subjects = [m.subject for m in mailoutbox]
    assert sum("opened on order" in s for s in subjects) == 1
    assert sum(s.endswith("closed: won") for s in subjects) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every HTTP attempt the gateway makes (the SDK's own retries included): method, path and
    Idempotency-Key, as they leave for the emulator."""
    seen: list[tuple[str, str, str]] = []
    send = stripe.RequestsClient.request

    def request(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        seen.append((method.upper(), urlsplit(url).path, (headers or {}).get("Idempotency-Key", "")))
        return send(self, method, url, headers, post_data)

    monkeypatch.setattr(stripe.RequestsClient, "request", request)
    return seen


@pytest.mark.parametrize(
    ("kind", "count"),
    [
        # 500: past the SDK's two retries, so the evidence task itself retries
        ("error", 3),
        # 429: past the gateway's own rate-limit retries (four), so the task retries too
        ("rate_limit", 5),
    ],
)
def test_the_staging_call_answered_500_or_429_is_retried_with_the_same_key_until_staged(
    wired: Any,
    evidence_queued: list[int],
    wire: list[tuple[str, str, str]],
    settings: Any,
    kind: str,
    count: int,
) -> None:
    wired.set_faults(api=[{"kind": kind, "path": "^/v1/disputes/", "method": "POST", "count": count}])
    order, dispute = opened_dispute(wired)

    posts = [(path, key) for method, path, key in wire if method == "POST"]
    staging = [(path, key) for path, key in posts if path.startswith("/v1/disputes/")]
    assert len(staging) == count + 1
    assert {staging_path for staging_path, _ in staging} == {f"/v1/disputes/{dispute.stripe_id}"}
    assert {key for _, key in staging} == {f"dispute:{dispute.pk}:evidence-draft:v1"}
    (draft,) = EvidenceDraft.objects.filter(dispute=dispute)
    assert draft.staged_at is not None
    stripe_dispute = wired.client().v1.disputes.retrieve(dispute.stripe_id)
    assert stripe_dispute.evidence_details.has_evidence is True
    assert stripe_dispute.evidence.customer_email_address == order.email
    uploads = [key for path, key in posts if path == "/v1/files"]
    assert set(uploads) == {f"dispute:{dispute.pk}:receipt:v1"}


def emulator_now(wired: Any, advance: float = 0) -> datetime:
    return datetime.fromtimestamp(wired.advance_clock(advance)["now"], tz=UTC)


def test_the_clock_moved_past_72_and_24_hours_before_the_deadline_warns_once_each_and_past_due_once(
    wired: Any, evidence_queued: list[int], mailoutbox: list[Any]
) -> None:
    order, dispute = opened_dispute(wired)
    due = dispute.evidence_due_by
    assert due is not None
    mailoutbox.clear()

    def run_job_twice(now: datetime) -> list[int]:
        # The beat job runs every 15 minutes: twice at the same point must warn no more.
        return [dispute_deadlines_check(now=now), dispute_deadlines_check(now=now + timedelta(minutes=15))]

    assert run_job_twice(emulator_now(wired)) == [0, 0]
    # the emulator's clock (and so Stripe's view of the deadline) moves to 71½ h before it
    target = due - timedelta(hours=71, minutes=30)
    now = emulator_now(wired, target.timestamp() - emulator_now(wired).timestamp())
    assert run_job_twice(now) == [1, 0]
    now = emulator_now(wired, timedelta(hours=48).total_seconds())  # 23½ h left
    assert run_job_twice(now) == [1, 0]
    # past the deadline: Stripe marks it past due, and the job flags it once
    now = emulator_now(wired, timedelta(hours=24).total_seconds())
    settle(wired)
    assert run_job_twice(now) == [1, 0]

    dispute.refresh_from_db()
    assert dispute.past_due is True and dispute.status == "needs_response"
    said = f"[payments] Dispute {dispute.stripe_id} on order {order.number}"
    assert [m.subject for m in mailoutbox] == [
        f"{said}: evidence due in 71 h, nothing submitted yet",
        f"{said}: evidence due in 23 h, nothing submitted yet",
        f"{said} is past its evidence deadline with nothing submitted",
    ]
    assert set(DeadlineWarning.objects.filter(dispute=dispute).values_list("threshold", flat=True)) == {
        "72h",
        "24h",
        "past_due",
    }


def test_two_disputes_on_one_payment_each_get_their_own_evidence(
    wired: Any, evidence_queued: list[int], mailoutbox: list[Any]
) -> None:
    order = shop_order()
    pay(wired, order, "pm_card_createMultipleDisputes")
    settle(wired)

    disputes = list(Dispute.objects.filter(order=order).order_by("amount"))
    assert [(d.reason, d.amount) for d in disputes] == [("product_not_received", 2100), ("fraudulent", 4200)]
    for dispute in disputes:
        (draft,) = EvidenceDraft.objects.filter(dispute=dispute)
        assert draft.staged_at is not None
        assert wired.client().v1.disputes.retrieve(dispute.stripe_id).evidence_details.has_evidence is True
    assert sum("opened on order" in m.subject for m in mailoutbox) == 2


def test_the_early_fraud_warning_card_is_mirrored_with_its_alert(wired: Any, mailoutbox: list[Any]) -> None:
    order = shop_order()
    pay(wired, order, "pm_card_createIssuerFraudRecord")
    settle(wired)

    (warning,) = EarlyFraudWarning.objects.filter(order=order)
    assert warning.stripe_id.startswith("issfr_") and warning.actionable
    assert [m.subject for m in mailoutbox if "Early fraud warning" in m.subject] == [
        f"[payments] Early fraud warning {warning.stripe_id} on order {order.number}, charge "
        f"{warning.charge_id}: {warning.fraud_type}, actionable: a refund now avoids a dispute"
    ]


def test_the_finance_api_lists_and_submits_an_emulator_dispute_by_its_dp_id(
    wired: Any, evidence_queued: list[int], finance_user: Any
) -> None:
    order, dispute = opened_dispute(wired)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=finance_user)[0].key}")

    (listed,) = api.get("/api/finance/disputes/?status=needs_response").json()["results"]
    assert (listed["id"], listed["order"]) == (dispute.stripe_id, order.number)
    assert listed["evidence_staged"] is True
    evidence = api.get(f"/api/finance/disputes/{dispute.stripe_id}/evidence/")
    assert evidence.status_code == 200
    body = {"uncategorized_text": "winning_evidence"}
    headers = {"HTTP_IDEMPOTENCY_KEY": f"submit-{dispute.stripe_id}"}
    first = api.post(f"/api/finance/disputes/{dispute.stripe_id}/submit/", body, format="json", **headers)
    again = api.post(f"/api/finance/disputes/{dispute.stripe_id}/submit/", body, format="json", **headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert wired.client().v1.disputes.retrieve(dispute.stripe_id).evidence_details.submission_count == 1


def test_evidence_over_stripes_limit_is_refused_with_a_clear_message_and_nothing_sent(
    wired: Any, evidence_queued: list[int], finance_user: Any, wire: list[tuple[str, str, str]]
) -> None:
    _, dispute = opened_dispute(wired)
    before = wired.client().v1.disputes.retrieve(dispute.stripe_id).evidence.to_dict()
    sent = len(wire)

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_evidence_revise(
            dispute=dispute, user=finance_user, changes={"uncategorized_text": "x" * 20_001}
        )

    assert str(refused.value) == ERROR_FIELD_TOO_LONG.format(
        field="uncategorized_text", length=20_001, limit=20_000
    )
    assert len(wire) == sent  # not a single request left for Stripe
    assert wired.client().v1.disputes.retrieve(dispute.stripe_id).evidence.to_dict() == before
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 1
