"""Finance revising the evidence: each save a new revision (numbered, by whom, audited, with the
liability shift), files uploaded under a key of their own, refusals that name what is wrong; and
what the evidence sweep and the refusal alert tell staff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from config.celery import app as celery_app
from disputes.evidence import ERROR_FILE_TOO_LARGE, ERROR_UNKNOWN_FIELD
from disputes.models import Dispute, EvidenceDraft
from disputes.services import (
    ERROR_ALREADY_SUBMITTED,
    ERROR_REVISION_TAKEN,
    DisputeActionRefused,
    EvidenceUpload,
    dispute_evidence_prepare,
    dispute_evidence_revise,
    dispute_evidence_sweep,
    dispute_sync,
)
from payments import stripe_gateway
from payments.models import StaffAction
from tests.disputes.factories import NOW, ChargeFactory, FakeStripe, dispute_object, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _alerts(alert_settings: Any) -> None:
    pass


def opened(fake: FakeStripe, *, order: bool = True, **fields: Any) -> Dispute:
    charge = (
        ChargeFactory(order=paid_order())
        if order
        else ChargeFactory.build(
            order=None, stripe_id="ch_nobody", amount=500, amount_captured=500, currency="usd"
        )
    )
    obj = fake.add(dispute_object(charge, **fields))
    return dispute_sync(obj=obj, seen_at=NOW - 50).dispute


def test_each_save_is_a_new_numbered_revision_by_its_author_with_the_liability_shift(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    # given a fraud dispute on a 3-D Secure authenticated charge, its evidence staged
    dispute = opened(fake_stripe, reason="fraudulent")
    dispute_evidence_prepare(dispute_pk=dispute.pk)
    assert "uncategorized_text" in EvidenceDraft.objects.get(dispute=dispute, revision=1).fields

    # when Finance saves twice, clearing the free text and a field that was never there
    dispute_evidence_revise(
        dispute=dispute, user=finance_user, changes={"uncategorized_text": "", "shipping_carrier": ""}
    )
    third = dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"shipping_carrier": "DHL"})

    # then
    second = EvidenceDraft.objects.get(dispute=dispute, revision=2)
    assert "uncategorized_text" not in second.fields and "shipping_carrier" not in second.fields
    assert (third.revision, third.fields["shipping_carrier"], third.created_by) == (3, "DHL", finance_user)
    assert second.created_by == finance_user
    assert third.liability_shift is True and "The liability shift applies" in third.liability_explanation
    assert list(StaffAction.objects.order_by("pk").values_list("actor", "action", "target", "outcome")) == [
        (finance_user.pk, "dispute_evidence_revise", dispute.stripe_id, "revision 2"),
        (finance_user.pk, "dispute_evidence_revise", dispute.stripe_id, "revision 3"),
    ]


def test_the_first_evidence_of_an_orderless_dispute_is_revision_1(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = opened(fake_stripe, order=False)

    draft = dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"shipping_carrier": "DHL"})

    assert draft.revision == 1


def test_an_attached_file_is_uploaded_for_dispute_evidence_under_the_revision_s_key(
    fake_stripe: FakeStripe, finance_user: User
) -> None:
    dispute = opened(fake_stripe)
    dispute_evidence_prepare(dispute_pk=dispute.pk)
    upload = EvidenceUpload(
        field="customer_signature",
        filename="signature.pdf",
        content=b"%PDF-1.4 signed",
        content_type="application/pdf",
    )

    draft = dispute_evidence_revise(dispute=dispute, user=finance_user, changes={}, upload=upload)

    (call,) = fake_stripe.calls_of("file_create")[1:]  # after the receipt
    assert call == {
        "key": f"dispute:{dispute.pk}:evidence-file-r2:v1",
        "purpose": "dispute_evidence",
        "filename": "signature.pdf",
        "content": b"%PDF-1.4 signed",
    }
    assert draft.fields["customer_signature"].startswith("file_test")


def test_a_colleague_saving_while_our_file_uploads_is_not_overwritten(
    fake_stripe: FakeStripe, finance_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispute = opened(fake_stripe)
    dispute_evidence_prepare(dispute_pk=dispute.pk)
    upload_file = stripe_gateway.file_create

    def slow_upload(**kwargs: Any) -> Any:
        EvidenceDraft.objects.create(dispute=dispute, revision=2, fields={"shipping_carrier": "UPS"})
        return upload_file(**kwargs)

    monkeypatch.setattr(stripe_gateway, "file_create", slow_upload)
    upload = EvidenceUpload(
        field="receipt", filename="r.pdf", content=b"%PDF", content_type="application/pdf"
    )

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_evidence_revise(dispute=dispute, user=finance_user, changes={}, upload=upload)

    assert str(refused.value) == ERROR_REVISION_TAKEN.format(dispute=dispute.stripe_id)
    assert EvidenceDraft.objects.filter(dispute=dispute).count() == 2


def test_what_stripe_would_refuse_is_named_and_nothing_is_stored_or_sent(
    fake_stripe: FakeStripe, finance_user: User, settings: Any
) -> None:
    settings.DISPUTE_EVIDENCE_MAX_FILE_BYTES = 10
    dispute = opened(fake_stripe)
    big = EvidenceUpload(field="colour", filename="c.pdf", content=b"x" * 11, content_type="application/pdf")
    small = EvidenceUpload(field="colour", filename="c.pdf", content=b"x", content_type="application/pdf")

    with pytest.raises(DisputeActionRefused) as fields:
        dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"colour": "red", "mood": "calm"})
    with pytest.raises(DisputeActionRefused) as unknown_file:
        dispute_evidence_revise(dispute=dispute, user=finance_user, changes={}, upload=small)
    with pytest.raises(DisputeActionRefused) as unknown_big_file:
        dispute_evidence_revise(dispute=dispute, user=finance_user, changes={}, upload=big)

    unknown = ERROR_UNKNOWN_FIELD.format(field="colour")
    assert str(fields.value) == f"{unknown} {ERROR_UNKNOWN_FIELD.format(field='mood')}"
    assert str(unknown_file.value) == unknown
    assert (
        str(unknown_big_file.value)
        == f"{unknown} {ERROR_FILE_TOO_LARGE.format(field='colour', size=11, limit=10)}"
    )
    assert not EvidenceDraft.objects.filter(dispute=dispute).exists()
    assert fake_stripe.calls_of("file_create") == []


@pytest.mark.parametrize("how", ["claimed", "submitted-in-the-dashboard"])
def test_submitted_evidence_can_not_be_revised(fake_stripe: FakeStripe, finance_user: User, how: str) -> None:
    dispute = opened(fake_stripe)
    if how == "claimed":
        Dispute.objects.filter(pk=dispute.pk).update(submit_claimed_at=timezone.now())
    else:
        Dispute.objects.filter(pk=dispute.pk).update(submission_count=1)

    with pytest.raises(DisputeActionRefused) as refused:
        dispute_evidence_revise(dispute=dispute, user=finance_user, changes={"shipping_carrier": "DHL"})

    assert str(refused.value) == ERROR_ALREADY_SUBMITTED.format(dispute=dispute.stripe_id)


def test_a_refused_draft_of_an_orderless_dispute_alerts_with_its_ids(fake_stripe: FakeStripe) -> None:
    dispute = opened(fake_stripe, order=False)
    EvidenceDraft.objects.create(dispute=dispute, revision=1, fields={}, problem="too long")

    dispute_evidence_prepare(dispute_pk=dispute.pk)

    said = (
        f"Evidence r1 for dispute {dispute.stripe_id} (order (no order)) is over Stripe's limits and was not "
        "sent; see the draft in the admin"
    )
    assert [(m.subject, m.body) for m in mail.outbox] == [
        (f"[payments] {said}", f"{said}\n\ndispute: {dispute.stripe_id}\norder: (no order)\nrevision: 1")
    ]


def test_the_sweep_queues_only_disputes_still_waiting_for_their_evidence(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=(), **options: queued.append(args[0]))
    waiting = opened(fake_stripe)
    unstaged = opened(fake_stripe)
    EvidenceDraft.objects.create(dispute=unstaged, revision=1, fields={})  # built, its staging lost
    opened(fake_stripe, status="won")
    for claim in ("submit_claimed_at", "accept_claimed_at", "refund_claimed_at"):
        Dispute.objects.filter(pk=opened(fake_stripe).pk).update(**{claim: timezone.now()})
    opened(fake_stripe, submission_count=1)  # submitted in the Dashboard, status not moved yet

    assert dispute_evidence_sweep(now=timezone.now() + timedelta(hours=1)) == 2

    assert sorted(queued) == sorted([waiting.pk, unstaged.pk])


def test_the_sweep_counts_only_what_the_broker_took(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(name: str, **options: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", broker_down)
    opened(fake_stripe)

    assert dispute_evidence_sweep(now=timezone.now() + timedelta(hours=1)) == 0


def test_staging_one_dispute_s_draft_leaves_the_others_and_a_code_less_refusal_is_alerted(
    fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.stripe_gateway import InvalidRequest

    # given two disputes, the first one's draft built but not staged
    waiting = opened(fake_stripe)
    EvidenceDraft.objects.create(dispute=waiting, revision=1, fields={})
    refused = opened(fake_stripe)
    staged = opened(fake_stripe)

    # when the second is staged, and the third's staging is refused without a code
    dispute_evidence_prepare(dispute_pk=staged.pk)
    mail.outbox.clear()

    def refuse(**kwargs: Any) -> Any:
        raise InvalidRequest("Stripe refused dispute.update.")

    monkeypatch.setattr(stripe_gateway, "dispute_update", refuse)
    dispute_evidence_prepare(dispute_pk=refused.pk)

    # then
    draft = EvidenceDraft.objects.get(dispute=staged)
    assert draft.staged_at is not None and draft.updated_at >= draft.staged_at
    assert EvidenceDraft.objects.get(dispute=waiting).staged_at is None
    assert EvidenceDraft.objects.get(dispute=refused).staged_at is None
    (alert,) = mail.outbox
    assert alert.subject.startswith(
        f"[payments] Evidence r1 for dispute {refused.stripe_id} (order {refused.order.number}) "  # type: ignore[union-attr]
        "was refused by Stripe (invalid request)"
    )
