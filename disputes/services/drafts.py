"""Evidence drafts: built from the order when a dispute opens, revised by Finance, staged on
Stripe with `submit=false` under one key per revision. No transaction is held open across a
Stripe call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.keys import idempotency_key
from disputes.evidence import (
    ERROR_UNKNOWN_FIELD,
    FILE_FIELDS,
    RECEIPT_CONTENT_TYPE,
    evidence_problems,
    evidence_text_fields,
    file_problems,
    liability_for,
    receipt_file,
)
from disputes.models import (
    RESPONDABLE_STATUSES,
    Dispute,
    EvidenceDraft,
)
from disputes.services.common import (
    ACTION_REVISE,
    ERROR_ALREADY_SUBMITTED,
    ERROR_REVISION_TAKEN,
    ERROR_STAGING_REFUSED,
    DisputeActionRefused,
    dispute_fresh,
    refuse_unless_finance,
)
from disputes.services.sync import dispute_sync, evidence_prepare_queue
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send
from payments.models import Charge
from payments.services.staff import staff_action_record
from payments.stripe_gateway import InvalidRequest

logger = logging.getLogger(__name__)


def _charge_of(dispute: Dispute) -> Charge | None:
    return Charge.objects.filter(stripe_id=dispute.charge_id).first()


def evidence_draft_latest(*, dispute: Dispute) -> EvidenceDraft | None:
    return dispute.drafts.order_by("-revision").first()


def draft_create(
    *, dispute: Dispute, revision: int, fields: dict[str, str], liability: Any, user: Any = None
) -> EvidenceDraft:
    """Store a revision of the evidence: `user` is the staff member who wrote it (Finance, signed
    in), None for the one built when the dispute opened."""
    problems = evidence_problems(fields)
    return EvidenceDraft.objects.create(
        dispute=dispute,
        revision=revision,
        fields=fields,
        liability_shift=liability.applies,
        liability_explanation=liability.explanation,
        created_by=user,
        problem="\n".join(problems),
    )


def evidence_draft_build(*, dispute: Dispute) -> EvidenceDraft | None:
    """Revision 1 of the evidence, from the order as it was at checkout, with the receipt uploaded
    to Stripe's Files (`dispute:<pk>:receipt:v1`, deterministic bytes, so a retry is the same
    upload). Returns the revision 1 another run stored first, if one did; None without an order."""
    if dispute.order is None:
        return None
    charge = _charge_of(dispute)
    fields, liability = evidence_text_fields(
        order=dispute.order, charge=charge, dispute_reason=dispute.reason
    )
    filename, content = receipt_file(order=dispute.order, charge=charge)
    problems = file_problems(field="receipt", content=content)
    if not problems and not evidence_problems(fields):
        upload = stripe_gateway.file_create(
            purpose="dispute_evidence",
            filename=filename,
            content=content,
            content_type=RECEIPT_CONTENT_TYPE,
            idempotency_key=idempotency_key("dispute", dispute.pk, "receipt"),
        )
        fields["receipt"] = str(upload["id"])
    try:
        with transaction.atomic():
            draft = draft_create(dispute=dispute, fields=fields, liability=liability, revision=1)
            if problems:
                draft.problem = "\n".join([*problems, draft.problem]).strip()
                draft.save(update_fields=["problem", "updated_at"])  # pragma: no mutate: a row made just now
            return draft
    except IntegrityError:
        return dispute.drafts.get(revision=1)


def _alert_refused(draft: EvidenceDraft, *, why: str = "is over Stripe's limits and was not sent") -> None:
    dispute = draft.dispute
    number = dispute.order.number if dispute.order else "(no order)"
    alert_send(
        kind=AlertKind.DISPUTE_EVIDENCE_REFUSED,
        message=f"Evidence r{draft.revision} for dispute {dispute.stripe_id} (order {number}) {why}; "
        "see the draft in the admin",
        ids={"dispute": dispute.stripe_id, "order": number, "revision": draft.revision},
    )


def evidence_draft_stage(*, draft: EvidenceDraft) -> EvidenceDraft:
    """Put a draft on Stripe with `submit=false` under `dispute:<pk>:evidence-draft:v<revision>`.
    A draft over Stripe's limits is not sent (its `problem` says why). Transient Stripe errors
    propagate for the caller's retry, which reuses the key."""
    if draft.staged_at is not None:
        return draft
    dispute = draft.dispute
    if draft.problem:
        return draft
    key = idempotency_key("dispute", dispute.pk, "evidence-draft", version=draft.revision)
    answer = stripe_gateway.dispute_update(
        dispute_id=dispute.stripe_id,
        params={"evidence": dict(draft.fields), "submit": False},
        idempotency_key=key,
    )
    dispute_sync(obj=answer)
    EvidenceDraft.objects.filter(pk=draft.pk, staged_at__isnull=True).update(
        staged_at=timezone.now(), updated_at=timezone.now()
    )
    draft.refresh_from_db()
    logger.info("dispute evidence staged dispute=%s revision=%s", dispute.stripe_id, draft.revision)
    return draft


def dispute_evidence_prepare(*, dispute_pk: int) -> EvidenceDraft | None:
    """The task's work when a dispute opens: build the evidence and stage it, unless it is done,
    submitted or no longer takes a response. Safe to run twice."""
    with_order = Dispute.objects.select_related("order")  # pragma: no mutate: it only saves queries
    dispute = with_order.filter(pk=dispute_pk).first()
    if dispute is None or dispute.status not in RESPONDABLE_STATUSES or dispute.submit_claimed_at is not None:
        return None
    draft = evidence_draft_latest(dispute=dispute) or evidence_draft_build(dispute=dispute)
    if draft is None:
        return None
    if draft.problem and draft.staged_at is None:
        _alert_refused(draft)
        return draft
    try:
        return evidence_draft_stage(draft=draft)
    except InvalidRequest as error:
        # Not worth retrying: the same request would be refused again. Staff see why on the
        # draft; a new revision (the evidence page) is staged under a key of its own.
        EvidenceDraft.objects.filter(pk=draft.pk).update(problem=ERROR_STAGING_REFUSED.format(error=error))
        draft.refresh_from_db()
        _alert_refused(draft, why=f"was refused by Stripe ({error.code or 'invalid request'})")
        return draft


# Left this long without a staged draft, a dispute's evidence task is presumed lost.
SWEEP_AFTER = timedelta(minutes=10)


def dispute_evidence_sweep(*, now: datetime | None = None) -> int:
    """Queue the evidence task again for every dispute that needs a response, has an order, has
    nothing submitted, and still has no staged draft (and no refused one) some minutes after we
    mirrored it: a lost broker message or a worker that died costs minutes, not the deadline.
    Returns how many were queued."""
    now = now or timezone.now()
    staged_or_refused = EvidenceDraft.objects.filter(dispute=OuterRef("pk")).filter(
        Q(staged_at__isnull=False) | ~Q(problem="")
    )
    due = (
        Dispute.objects.filter(
            status__in=RESPONDABLE_STATUSES,
            order__isnull=False,
            submit_claimed_at__isnull=True,
            accept_claimed_at__isnull=True,
            refund_claimed_at__isnull=True,
            submission_count=0,
            created_at__lte=now - SWEEP_AFTER,
        )
        .filter(~Exists(staged_or_refused))
        .values_list("pk", flat=True)  # pragma: no mutate: with no field named, flat=True yields the pk too
    )
    return sum(1 for pk in due if evidence_prepare_queue(dispute_pk=pk))


@dataclass(frozen=True)
class EvidenceUpload:
    """A file staff attach to the evidence: which field it fills, and its bytes."""

    field: str
    filename: str
    content: bytes
    content_type: str


def dispute_evidence_revise(
    *, dispute: Dispute, user: Any, changes: dict[str, str], upload: EvidenceUpload | None = None
) -> EvidenceDraft:
    """Staff edit the draft's text fields (and may attach a file): a new revision (the staged
    ones never change) that is staged under its own key. Over Stripe's limits →
    DisputeActionRefused, nothing stored or sent. Finance only, audited."""
    refuse_unless_finance(user)
    dispute = dispute_fresh(dispute)
    if dispute.submit_claimed_at is not None or dispute.submitted:
        raise DisputeActionRefused(ERROR_ALREADY_SUBMITTED.format(dispute=dispute.stripe_id))
    latest = evidence_draft_latest(dispute=dispute)
    revision = (latest.revision + 1) if latest else 1
    fields = dict(latest.fields) if latest else {}
    for name, value in changes.items():
        if value:
            fields[name] = value
        else:
            fields.pop(name, None)
    problems = evidence_problems(fields)
    if upload is not None:
        if upload.field not in FILE_FIELDS:
            problems.append(ERROR_UNKNOWN_FIELD.format(field=upload.field))
        problems += file_problems(field=upload.field, content=upload.content)
    if problems:
        raise DisputeActionRefused(" ".join(problems))
    if upload is not None:
        answer = stripe_gateway.file_create(
            purpose="dispute_evidence",
            filename=upload.filename,
            content=upload.content,
            content_type=upload.content_type,
            idempotency_key=idempotency_key("dispute", dispute.pk, f"evidence-file-r{revision}"),
        )
        fields[upload.field] = str(answer["id"])
    liability = liability_of(dispute)
    try:
        with transaction.atomic():
            draft = draft_create(
                dispute=dispute, fields=fields, liability=liability, user=user, revision=revision
            )
            staff_action_record(
                actor=user,
                action=ACTION_REVISE,
                target=dispute.stripe_id,
                outcome=f"revision {draft.revision}",
            )
    except IntegrityError:
        # The unique (dispute, revision) row: a colleague saved this revision number first.
        raise DisputeActionRefused(ERROR_REVISION_TAKEN.format(dispute=dispute.stripe_id)) from None
    if dispute.status in RESPONDABLE_STATUSES:
        draft = evidence_draft_stage(draft=draft)
    return draft


def liability_of(dispute: Dispute) -> Any:
    return liability_for(charge=_charge_of(dispute), dispute_reason=dispute.reason)
