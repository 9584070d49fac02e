"""The staff actions on a dispute (Finance only): submit the evidence, accept the dispute,
refund an inquiry. Each is claimed by one conditional UPDATE, committed with its audit row
before Stripe is called, so a second click, a retry or a race does nothing more."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.keys import idempotency_key
from disputes.evidence import (
    evidence_problems,
)
from disputes.models import (
    CLOSED_STATUSES,
    RESPONDABLE_STATUSES,
    UNDER_REVIEW_STATUSES,
    Dispute,
    EvidenceDraft,
)
from disputes.services.common import (
    ACTION_ACCEPT,
    ACTION_REFUND,
    ACTION_SUBMIT,
    ERROR_ALREADY_SUBMITTED,
    ERROR_NO_EVIDENCE,
    ERROR_NOT_REFUNDABLE,
    ERROR_NOT_RESPONDABLE,
    ERROR_REVISION_TAKEN,
    DisputeActionRefused,
    dispute_fresh,
    refuse_unless_finance,
)
from disputes.services.drafts import draft_create, evidence_draft_build, evidence_draft_latest, liability_of
from disputes.services.sync import dispute_sync
from payments import stripe_gateway
from payments.models import StaffAction
from payments.services.refunds import refund_apply
from payments.services.staff import staff_action_record
from payments.stripe_gateway import InvalidRequest, RateLimited, StripeUnavailable

logger = logging.getLogger(__name__)


def _finish(action: StaffAction, outcome: str) -> None:
    StaffAction.objects.filter(pk=action.pk).update(
        outcome=outcome[:255]  # pragma: no mutate: every outcome is a short sentence, far under 255
    )


# A claim younger than this is a request still talking to Stripe (the gateway's timeouts and
# retries fit well inside it): a second click or a race sends nothing. An older claim whose
# answer never came back is sent again, as the same request with the same idempotency key.
CLAIM_RESEND_AFTER = timedelta(minutes=3)
OUTCOME_UNKNOWN = (StripeUnavailable, RateLimited)


def _in_flight(claimed_at: datetime | None) -> bool:
    return claimed_at is not None and claimed_at > timezone.now() - CLAIM_RESEND_AFTER


def _answer_lost(dispute: Dispute, action: StaffAction, *, claim: str) -> None:
    """Our call ended without an answer (Stripe down, rate limited): the claim stays, but is no
    longer in flight, so the next attempt sends the same request again at once."""
    Dispute.objects.filter(pk=dispute.pk).update(**{claim: timezone.now() - CLAIM_RESEND_AFTER})
    _finish(action, "no answer from Stripe; the next attempt sends the same request again")


def dispute_evidence_submit(*, dispute: Dispute, user: Any, extra_text: str | None = None) -> Dispute:
    """Submit the dispute's evidence to Stripe, once (Finance only).

    One conditional UPDATE claims the submission before Stripe is called, with the audit row in
    the same transaction; a second click, a retry or a race finds it claimed and sends nothing
    new. A claimed submission whose answer was lost (claimed over CLAIM_RESEND_AFTER ago) is sent
    again as the same request (same revision, same key `dispute:<pk>:evidence-submit:v1`), which
    Stripe answers from its idempotency record. Stripe's "already submitted" answer counts as
    submitted. `extra_text` is added to the draft's `uncategorized_text` as a new revision."""
    refuse_unless_finance(user)
    dispute = dispute_fresh(dispute)
    if dispute.submitted:
        return dispute
    if dispute.submit_claimed_at is None:
        if dispute.status not in RESPONDABLE_STATUSES:
            raise DisputeActionRefused(
                ERROR_NOT_RESPONDABLE.format(dispute=dispute.stripe_id, status=dispute.status)
            )
        latest = evidence_draft_latest(dispute=dispute) or evidence_draft_build(dispute=dispute)
        if latest is None:
            raise DisputeActionRefused(ERROR_NO_EVIDENCE.format(dispute=dispute.stripe_id))
        fields = dict(latest.fields)
        if extra_text and extra_text.strip():
            before = fields.get("uncategorized_text", "")
            fields["uncategorized_text"] = f"{before}\n\n{extra_text.strip()}".strip()
        problems = evidence_problems(fields) or ([latest.problem] if latest.problem else [])
        if problems:
            raise DisputeActionRefused(" ".join(problems))
        try:
            action = _claim_submission(dispute, user=user, latest=latest, fields=fields)
        except IntegrityError:
            # The unique (dispute, revision) row: a colleague saved a revision meanwhile.
            raise DisputeActionRefused(ERROR_REVISION_TAKEN.format(dispute=dispute.stripe_id)) from None
        if action is None:
            # Someone else claimed it (or accepted it) between our read and our UPDATE.
            return Dispute.objects.get(pk=dispute.pk)
        dispute.refresh_from_db()
    elif _in_flight(dispute.submit_claimed_at):
        return dispute  # another click or request is sending it right now: send nothing more
    else:
        action = staff_action_record(
            actor=user,
            action=ACTION_SUBMIT,
            target=dispute.stripe_id,
            outcome="sending the claimed submission again",
        )
    return _submit_claimed(dispute, action)


def _claim_submission(
    dispute: Dispute, *, user: Any, latest: EvidenceDraft, fields: dict[str, Any]
) -> StaffAction | None:
    """The conditional UPDATE that claims the submission, the revision it sends and the audit
    row, in one transaction; None when another request claimed it first."""
    with transaction.atomic():
        claimed = Dispute.objects.filter(
            pk=dispute.pk,
            submit_claimed_at__isnull=True,
            accept_claimed_at__isnull=True,
            refund_claimed_at__isnull=True,
            submission_count=0,
            status__in=RESPONDABLE_STATUSES,
        ).update(submit_claimed_at=timezone.now(), submit_claimed_by=user, updated_at=timezone.now())
        if not claimed:
            return None
        revision = latest.revision
        if fields != latest.fields:
            revision = draft_create(
                dispute=dispute,
                revision=revision + 1,
                fields=fields,
                liability=liability_of(dispute),
                user=user,
            ).revision
        Dispute.objects.filter(pk=dispute.pk).update(submitted_revision=revision)
        action = staff_action_record(
            actor=user,
            action=ACTION_SUBMIT,
            target=dispute.stripe_id,
            outcome=f"submitting revision {revision}",
        )
    return action


def _submit_claimed(dispute: Dispute, action: StaffAction) -> Dispute:
    assert dispute.submitted_revision is not None
    draft = dispute.drafts.get(revision=dispute.submitted_revision)
    key = idempotency_key("dispute", dispute.pk, "evidence-submit", version=dispute.submit_attempt)
    try:
        answer = stripe_gateway.dispute_update(
            dispute_id=dispute.stripe_id,
            params={"evidence": dict(draft.fields), "submit": True},
            idempotency_key=key,
        )
    except OUTCOME_UNKNOWN:
        _answer_lost(dispute, action, claim="submit_claimed_at")
        raise
    except InvalidRequest as error:
        # Stripe refused: perhaps it was submitted already (the Dashboard, an earlier answer we
        # lost). What Stripe has now decides.
        current = dispute_sync(obj=stripe_gateway.dispute_retrieve(dispute_id=dispute.stripe_id)).dispute
        if current.submission_count > 0 or current.status in UNDER_REVIEW_STATUSES:
            Dispute.objects.filter(pk=dispute.pk, submitted_at__isnull=True).update(
                submitted_at=timezone.now()
            )
            _finish(action, f"already submitted on Stripe ({error.code or 'refused'})")
            return Dispute.objects.get(pk=dispute.pk)
        if current.status not in RESPONDABLE_STATUSES:
            # Closed meanwhile (lost at the deadline, accepted in the Dashboard): nothing was
            # submitted and nothing can be.
            Dispute.objects.filter(pk=dispute.pk).update(submit_claimed_at=None, submit_claimed_by=None)
            _finish(action, f"not submitted: the dispute is {current.status}")
            raise DisputeActionRefused(
                ERROR_NOT_RESPONDABLE.format(dispute=dispute.stripe_id, status=current.status)
            ) from None
        # A refusal staff can fix: release the claim; the corrected request gets a key of its own.
        Dispute.objects.filter(pk=dispute.pk).update(
            submit_claimed_at=None,
            submit_claimed_by=None,
            submitted_revision=None,
            submit_attempt=F("submit_attempt") + 1,
        )
        _finish(action, f"refused by Stripe: {error.code or 'invalid request'}")
        raise DisputeActionRefused(str(error)) from None
    dispute_sync(obj=answer)
    Dispute.objects.filter(pk=dispute.pk, submitted_at__isnull=True).update(submitted_at=timezone.now())
    _finish(action, f"submitted revision {draft.revision}")
    logger.info("dispute evidence submitted dispute=%s revision=%s", dispute.stripe_id, draft.revision)
    return Dispute.objects.get(pk=dispute.pk)


def dispute_accept(*, dispute: Dispute, user: Any) -> Dispute:
    """Accept the dispute as lost (`POST /v1/disputes/{id}/close`, irreversible), once (Finance
    only), claimed by a conditional UPDATE with the audit row, key `dispute:<pk>:close:v1`."""
    refuse_unless_finance(user)
    dispute = Dispute.objects.get(pk=dispute.pk)
    if dispute.status in CLOSED_STATUSES:
        return dispute
    if dispute.accept_claimed_at is None:
        with transaction.atomic():
            claimed = Dispute.objects.filter(
                pk=dispute.pk,
                accept_claimed_at__isnull=True,
                submit_claimed_at__isnull=True,
                refund_claimed_at__isnull=True,
                status__in=RESPONDABLE_STATUSES,
            ).update(accept_claimed_at=timezone.now(), accept_claimed_by=user, updated_at=timezone.now())
            if not claimed:
                current = Dispute.objects.get(pk=dispute.pk)
                if current.accept_claimed_at is None:
                    raise DisputeActionRefused(
                        ERROR_NOT_RESPONDABLE.format(dispute=dispute.stripe_id, status=current.status)
                        if current.status not in RESPONDABLE_STATUSES
                        else ERROR_ALREADY_SUBMITTED.format(dispute=dispute.stripe_id)
                    )
                return current
            action = staff_action_record(
                actor=user, action=ACTION_ACCEPT, target=dispute.stripe_id, outcome="closing"
            )
    elif _in_flight(dispute.accept_claimed_at):
        return dispute
    else:
        action = staff_action_record(
            actor=user,
            action=ACTION_ACCEPT,
            target=dispute.stripe_id,
            outcome="sending the claimed close again",
        )
    try:
        answer = stripe_gateway.dispute_close(
            dispute_id=dispute.stripe_id, idempotency_key=idempotency_key("dispute", dispute.pk, "close")
        )
    except OUTCOME_UNKNOWN:
        _answer_lost(dispute, action, claim="accept_claimed_at")
        raise
    except InvalidRequest as error:
        current = dispute_sync(obj=stripe_gateway.dispute_retrieve(dispute_id=dispute.stripe_id)).dispute
        if current.status in CLOSED_STATUSES:
            _finish(action, f"already closed on Stripe: {current.status}")
            return current
        Dispute.objects.filter(pk=dispute.pk).update(accept_claimed_at=None, accept_claimed_by=None)
        _finish(action, f"refused by Stripe: {error.code or 'invalid request'}")
        raise DisputeActionRefused(str(error)) from None
    result = dispute_sync(obj=answer)
    _finish(action, f"closed: {result.dispute.status}")
    return Dispute.objects.get(pk=dispute.pk)


def dispute_refund_inquiry(*, dispute: Dispute, user: Any) -> Dispute:
    """Answer an inquiry (`warning_needs_response`) with a full refund of what is left of the
    charge, when Stripe says `is_charge_refundable`: refunding closes the inquiry. Finance only,
    once (a conditional UPDATE claims it, with the audit row), key `dispute:<pk>:inquiry-refund:v1`.
    The Refund mirror is written by its own sync service (payments.services.refunds)."""
    refuse_unless_finance(user)
    dispute = dispute_fresh(dispute)
    if dispute.refund_id:
        return dispute
    if dispute.refund_claimed_at is None:
        with transaction.atomic():
            claimed = Dispute.objects.filter(
                pk=dispute.pk,
                refund_claimed_at__isnull=True,
                submit_claimed_at__isnull=True,
                accept_claimed_at__isnull=True,
                status=Dispute.Status.WARNING_NEEDS_RESPONSE,
                is_charge_refundable=True,
            ).update(refund_claimed_at=timezone.now(), updated_at=timezone.now())
            if not claimed:
                raise DisputeActionRefused(ERROR_NOT_REFUNDABLE.format(dispute=dispute.stripe_id))
            action = staff_action_record(
                actor=user, action=ACTION_REFUND, target=dispute.stripe_id, outcome="refunding"
            )
    elif _in_flight(dispute.refund_claimed_at):
        return dispute
    else:
        action = staff_action_record(
            actor=user,
            action=ACTION_REFUND,
            target=dispute.stripe_id,
            outcome="sending the claimed refund again",
        )
    metadata = {"dispute": dispute.stripe_id}
    if dispute.order is not None:
        metadata |= {"order_id": str(dispute.order.pk), "order_number": dispute.order.number}
    try:
        refund = stripe_gateway.refund_create(
            params={"charge": dispute.charge_id, "metadata": metadata},
            idempotency_key=idempotency_key("dispute", dispute.pk, "inquiry-refund"),
            ids={"dispute": dispute.stripe_id, "charge": dispute.charge_id},
        )
    except OUTCOME_UNKNOWN:
        _answer_lost(dispute, action, claim="refund_claimed_at")
        raise
    except InvalidRequest as error:
        Dispute.objects.filter(pk=dispute.pk).update(refund_claimed_at=None)
        _finish(action, f"refused by Stripe: {error.code or 'invalid request'}")
        raise DisputeActionRefused(str(error)) from None
    refund_apply(refund=refund, order=dispute.order)
    Dispute.objects.filter(pk=dispute.pk).update(refund_id=str(refund["id"]))
    _finish(action, f"refund {refund['id']} {refund.get('status') or ''}".strip())
    return Dispute.objects.get(pk=dispute.pk)
