"""The dispute admin: open disputes first by deadline, read-only mirrors, the liability shift
explained, the evidence for Finance only (edit, attach), and the two actions behind a
confirmation page."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from core.security import RECENT_AUTH_KEY
from disputes.models import Dispute, EvidenceDraft
from disputes.services import dispute_evidence_prepare, dispute_sync
from payments.models import StaffAction
from tests.conftest import otp_login
from tests.disputes.factories import DAY, NOW, ChargeFactory, FakeStripe, dispute_object, paid_order

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/disputes/dispute/"


def open_dispute(fake: FakeStripe, *, stage: bool = True, **fields: Any) -> Dispute:
    obj = fake.add(dispute_object(ChargeFactory(order=paid_order()), **fields))
    dispute = dispute_sync(obj=obj, seen_at=NOW - 50).dispute
    if stage:
        dispute_evidence_prepare(dispute_pk=dispute.pk)
    return Dispute.objects.get(pk=dispute.pk)


def logged_in(user: User) -> Client:
    client = Client()
    otp_login(client, user)
    return client


def submits(fake: FakeStripe) -> list[dict[str, Any]]:
    return [call for call in fake.calls_of("dispute_update") if call["submit"]]


def test_support_sees_open_disputes_first_by_deadline(fake_stripe: FakeStripe, support_user: User) -> None:
    won = open_dispute(fake_stripe, stage=False, status="won", due_in=DAY)
    later = open_dispute(fake_stripe, due_in=9 * DAY)
    sooner = open_dispute(fake_stripe, due_in=2 * DAY)

    page = logged_in(support_user).get(CHANGELIST).content.decode()

    positions = [page.index(d.stripe_id) for d in (sooner, later, won)]
    assert positions == sorted(positions)
    # Support can re-sync but is not offered the Finance actions
    assert 'value="resync"' in page
    assert 'value="submit_evidence"' not in page and 'value="accept_dispute"' not in page


def test_the_change_page_is_read_only_and_explains_the_liability_shift(
    fake_stripe: FakeStripe, support_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    url = reverse("admin:disputes_dispute_change", args=[dispute.pk])
    client = logged_in(support_user)

    page = client.get(url).content.decode()
    client.post(url, {"status": "won"})

    assert "The liability shift applies: the card issuer, not the shop, bears a fraud dispute." in page
    assert "3-D Secure: the customer authenticated with their bank" in page
    assert Dispute.objects.get(pk=dispute.pk).status == "needs_response"
    # the evidence itself is Finance's
    assert dispute.order.email not in page  # type: ignore[union-attr]
    evidence = reverse("admin:disputes_dispute_evidence", args=[dispute.pk])
    assert client.get(evidence).status_code == 403


def test_submit_evidence_asks_for_confirmation_then_submits_once(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    client = logged_in(finance_user)
    selected = {"action": "submit_evidence", "_selected_action": [dispute.pk]}

    confirmation = client.post(CHANGELIST, selected)
    assert confirmation.status_code == 200
    page = confirmation.content.decode()
    assert "Stripe takes one submission per dispute" in page and dispute.stripe_id in page
    assert submits(fake_stripe) == []

    done = client.post(CHANGELIST, {**selected, "confirm": "yes", "extra_text": "Signed for."}, follow=True)
    again = client.post(CHANGELIST, {**selected, "confirm": "yes"}, follow=True)

    assert "evidence submitted, now under_review" in done.content.decode()
    assert again.status_code == 200
    (call,) = submits(fake_stripe)
    assert call["evidence"]["uncategorized_text"].endswith("Signed for.")
    assert StaffAction.objects.filter(action="dispute_evidence_submit", actor=finance_user).count() == 1


def test_accept_asks_for_confirmation_then_closes(fake_stripe: FakeStripe, finance_user: User) -> None:
    dispute = open_dispute(fake_stripe)
    client = logged_in(finance_user)
    selected = {"action": "accept_dispute", "_selected_action": [dispute.pk]}

    assert "Accepting closes the dispute as lost" in client.post(CHANGELIST, selected).content.decode()
    assert fake_stripe.calls_of("dispute_close") == []
    client.post(CHANGELIST, {**selected, "confirm": "yes"})

    assert Dispute.objects.get(pk=dispute.pk).status == "lost"
    assert len(fake_stripe.calls_of("dispute_close")) == 1


def test_support_posting_a_finance_action_changes_nothing(
    fake_stripe: FakeStripe, support_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    fake_stripe.calls.clear()

    logged_in(support_user).post(
        CHANGELIST, {"action": "submit_evidence", "_selected_action": [dispute.pk], "confirm": "yes"}
    )

    assert fake_stripe.calls == []
    assert Dispute.objects.get(pk=dispute.pk).submit_claimed_at is None


def test_finance_edits_the_text_and_attaches_a_file_as_a_new_staged_revision(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    first = EvidenceDraft.objects.get(dispute=dispute, revision=1)
    url = reverse("admin:disputes_dispute_evidence", args=[dispute.pk])
    client = logged_in(finance_user)
    assert first.fields["customer_email_address"] in client.get(url).content.decode()

    form = {**first.fields, "shipping_carrier": "Royal Mail", "shipping_tracking_number": "RM123456785GB"}
    form.pop("receipt")
    form["attach_to"] = "shipping_documentation"
    form["attachment"] = SimpleUploadedFile("proof.pdf", b"%PDF-1.4 proof of delivery", "application/pdf")
    response = client.post(url, form, follow=True)

    assert "Evidence revision 2 staged on Stripe." in response.content.decode()
    second = EvidenceDraft.objects.get(dispute=dispute, revision=2)
    assert second.fields["shipping_carrier"] == "Royal Mail"
    assert second.fields["receipt"] == first.fields["receipt"]
    assert second.fields["shipping_documentation"].startswith("file_")
    assert second.staged_at is not None
    staged = fake_stripe.calls_of("dispute_update")[-1]
    assert staged["key"] == f"dispute:{dispute.pk}:evidence-draft:v2" and staged["submit"] is False
    assert StaffAction.objects.get(action="dispute_evidence_revise").outcome == "revision 2"


def test_an_edit_over_the_limit_says_so_and_sends_nothing(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    first = EvidenceDraft.objects.get(dispute=dispute, revision=1)
    fake_stripe.calls.clear()
    url = reverse("admin:disputes_dispute_evidence", args=[dispute.pk])

    form = {**first.fields, "customer_name": "x" * 5001}
    response = logged_in(finance_user).post(url, form, follow=True)

    assert "The evidence field customer_name has 5001 characters and Stripe accepts at most 5000" in (
        response.content.decode()
    )
    assert fake_stripe.calls == []
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 1


def test_the_order_page_shows_the_dispute_and_its_outcome(fake_stripe: FakeStripe) -> None:
    dispute = open_dispute(fake_stripe, stage=False, status="won")
    page = logged_in(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    response = page.get(reverse("admin:orders_order_change", args=[dispute.order.pk]))  # type: ignore[union-attr]
    assert f"{dispute.stripe_id} · won" in response.content.decode()


def test_an_inquiry_is_refunded_instead_after_confirmation(
    fake_stripe: FakeStripe, finance_user: User, refunds: list[dict[str, Any]]
) -> None:
    dispute = open_dispute(fake_stripe, status="warning_needs_response", is_charge_refundable=True)
    client = logged_in(finance_user)
    selected = {"action": "refund_inquiry", "_selected_action": [dispute.pk]}

    assert "which closes the inquiry" in client.post(CHANGELIST, selected).content.decode()
    assert refunds == []
    done = client.post(CHANGELIST, {**selected, "confirm": "yes"}, follow=True)

    assert f"Dispute {dispute.stripe_id}: refunded (re_inquiry1)." in done.content.decode()
    assert len(refunds) == 1


def test_submitting_evidence_asks_for_the_password_again_after_ten_minutes(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = open_dispute(fake_stripe)
    client = logged_in(finance_user)
    session = client.session
    session[RECENT_AUTH_KEY] = int(time.time()) - 11 * 60
    session.save()

    response = client.post(
        CHANGELIST, {"action": "submit_evidence", "_selected_action": [dispute.pk], "confirm": "yes"}
    )

    assert response.status_code == 302 and response["Location"].startswith(reverse("security:confirm"))
    assert submits(fake_stripe) == []
