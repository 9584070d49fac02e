"""Writes to disputes: the mirrors' sync services, evidence drafts and their staging, the staff
actions (submit evidence, accept) and the deadline warnings.

Lock order: the event row (held by the event processing), then the dispute row, then the order
row (`orders.services` locks it). No transaction is held open across a Stripe call: a claim is
committed first, then Stripe is called, then the answer is applied through `dispute_sync`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.keys import idempotency_key
from core.roles import user_is_finance
from disputes.evidence import (
    ERROR_UNKNOWN_FIELD,
    FILE_FIELDS,
    RECEIPT_CONTENT_TYPE,
    evidence_problems,
    evidence_text_fields,
    file_problems,
    receipt_file,
)
from disputes.models import (
    CLOSED_STATUSES,
    DISPUTE_STATUS_RANK,
    RESPONDABLE_STATUSES,
    DeadlineWarning,
    Dispute,
    EarlyFraudWarning,
    EvidenceDraft,
)
from orders.models import Order
from orders.selectors import order_find_for_stripe_object
from orders.services import order_mark_disputed
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send, alert_send_on_commit
from payments.models import Charge, StaffAction
from payments.services.refunds import refund_apply
from payments.services.staff import staff_action_record
from payments.stripe_gateway import InvalidRequest

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

ERROR_NOT_FINANCE = "Only Finance staff can act on disputes; Support can read them."
ERROR_NOT_RESPONDABLE = "Dispute {dispute} is {status}: Stripe takes no response to it any more."
ERROR_NO_EVIDENCE = (
    "Dispute {dispute} has no evidence draft yet: its order is unknown, so add the evidence by hand."
)
ERROR_STAGING_REFUSED = "Stripe refused this draft: {error} Change the evidence to stage a new revision."
ERROR_REVISION_TAKEN = (
    "Someone saved a newer revision of the evidence for dispute {dispute} meanwhile: reload the page "
    "and make your change again."
)
ERROR_ALREADY_SUBMITTED = "Evidence for dispute {dispute} has been submitted: it cannot be edited any more."

ACTION_SUBMIT = "dispute_evidence_submit"
ACTION_ACCEPT = "dispute_accept"
ACTION_REVISE = "dispute_evidence_revise"

WARNING_THRESHOLDS: tuple[tuple[str, int], ...] = (
    (DeadlineWarning.Threshold.HOURS_24, 24),
    (DeadlineWarning.Threshold.HOURS_72, 72),
)


class DisputeActionRefused(Exception):
    """A staff action that cannot be done; `str()` is a sentence for staff, with ids only."""


def _id_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _when(value: Any) -> datetime | None:
    # Stripe's `due_by` is 0 when the bank allows no response.
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int) and value > 0 else None


# ---------------------------------------------------------------------------- sync


@dataclass(frozen=True)
class DisputeSyncResult:
    dispute: Dispute
    created: bool = False
    changed: bool = False
    closed: bool = False
    note: str = ""


def _dispute_fields(obj: JsonDict) -> dict[str, Any]:
    details = obj.get("evidence_details") or {}
    card = (obj.get("payment_method_details") or {}).get("card") or {}
    return {
        "status": str(obj.get("status") or ""),
        "reason": str(obj.get("reason") or "")[:64],
        "amount": int(obj.get("amount") or 0),
        "currency": str(obj.get("currency") or "").lower(),
        "evidence_due_by": _when(details.get("due_by")),
        "has_evidence": bool(details.get("has_evidence")),
        "past_due": bool(details.get("past_due")),
        "submission_count": int(details.get("submission_count") or 0),
        "is_charge_refundable": bool(obj.get("is_charge_refundable")),
        "network_reason_code": str(card.get("network_reason_code") or obj.get("network_reason_code") or "")[
            :32
        ],
        "case_type": str(card.get("case_type") or "")[:32],
        "card_brand": str(card.get("brand") or "")[:32],
        "enhanced_eligibility_types": list(obj.get("enhanced_eligibility_types") or []),
    }


def _order_for(obj: JsonDict) -> Order | None:
    """The order of a disputed charge: the Charge mirror's, else the ids stored on the order."""
    charge_id = _id_of(obj.get("charge"))
    charge = Charge.objects.filter(stripe_id=charge_id).only("order_id").first() if charge_id else None
    if charge is not None and charge.order_id is not None:
        return Order.objects.filter(pk=charge.order_id).first()
    return order_find_for_stripe_object(obj={"object": "dispute", **obj, "metadata": {}})


def dispute_sync(*, obj: JsonDict, source: str, seen_at: int | None = None) -> DisputeSyncResult:
    """Mirror a Dispute snapshot (from an event, or fetched by us: `seen_at` None means now).

    Forward-only (invariant 5): a closed dispute is final, a lower status changes nothing, and
    within one status rank an older snapshot changes nothing. The order becomes disputed. A new
    dispute that needs a response has its evidence prepared by a task queued on commit."""
    seen_at = int(time.time()) if seen_at is None else seen_at
    stripe_id = str(obj["id"])
    fields = _dispute_fields(obj)
    if fields["status"] not in DISPUTE_STATUS_RANK:
        raise ValueError(f"unknown dispute status {fields['status']!r}")
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(stripe_id=stripe_id).first()
        created = False
        if dispute is None:
            order = _order_for(obj)
            created_at = obj.get("created")
            try:
                with transaction.atomic():
                    dispute = Dispute.objects.create(
                        stripe_id=stripe_id,
                        livemode=bool(obj.get("livemode")),
                        stripe_created=datetime.fromtimestamp(created_at, tz=UTC)
                        if isinstance(created_at, int)
                        else None,
                        synced_at=timezone.now(),
                        charge_id=_id_of(obj.get("charge")),
                        payment_intent_id=_id_of(obj.get("payment_intent")) or None,
                        order=order,
                        status_at=seen_at,
                        **fields,
                    )
                created = True
            except IntegrityError:
                dispute = Dispute.objects.select_for_update().get(stripe_id=stripe_id)
        # A dispute first seen already closed (its earlier events missed) still tells its outcome.
        previous = "" if created else dispute.status
        order_before = dispute.order_id
        changed = created
        if not created:
            changed = _dispute_apply(dispute, fields=fields, seen_at=seen_at, obj=obj)
        closed = previous not in CLOSED_STATUSES and dispute.status in CLOSED_STATUSES
        if closed and dispute.closed_at is None:
            dispute.closed_at = timezone.now()
            dispute.save(update_fields=["closed_at", "updated_at"])
        if dispute.order_id is not None:
            order_mark_disputed(order=dispute.order)  # type: ignore[arg-type]
        # An order found only now (its Charge mirror arrived after the dispute) gets its evidence.
        linked = not created and order_before is None and dispute.order_id is not None
        _after_sync(dispute, created=created, closed=closed, previous=previous, linked=linked)
        note = "" if dispute.order_id else "dispute mirrored; no order matches its charge"
        return DisputeSyncResult(dispute, created, changed, closed, note)


def _dispute_apply(dispute: Dispute, *, fields: dict[str, Any], seen_at: int, obj: JsonDict) -> bool:
    """Apply a snapshot to a locked, existing dispute if the forward-only rules allow it."""
    if dispute.status in CLOSED_STATUSES:
        return False
    current, new = DISPUTE_STATUS_RANK[dispute.status], DISPUTE_STATUS_RANK[fields["status"]]
    if new < current or (new == current and seen_at < dispute.status_at):
        return False
    # Counts only grow, even if Stripe's snapshots disagree for a moment.
    fields["submission_count"] = max(fields["submission_count"], dispute.submission_count)
    before = {name: getattr(dispute, name) for name in fields}
    for name, value in fields.items():
        setattr(dispute, name, value)
    update = [name for name in fields if before[name] != getattr(dispute, name)]
    if not dispute.payment_intent_id and _id_of(obj.get("payment_intent")):
        dispute.payment_intent_id = _id_of(obj.get("payment_intent"))
        update.append("payment_intent")
    if dispute.order_id is None:
        order = _order_for(obj)
        if order is not None:
            dispute.order = order
            update.append("order")
    dispute.status_at = max(dispute.status_at, seen_at)
    dispute.synced_at = timezone.now()
    dispute.save(update_fields=[*update, "status_at", "synced_at", "updated_at"])
    return bool(update)


def _after_sync(
    dispute: Dispute, *, created: bool, closed: bool, previous: str, linked: bool = False
) -> None:
    number = dispute.order.number if dispute.order_id and dispute.order else "(no order)"
    ids = {"dispute": dispute.stripe_id, "order": number, "charge": dispute.charge_id}
    if created:
        due = (
            dispute.evidence_due_by.strftime("%Y-%m-%d %H:%M UTC")
            if dispute.evidence_due_by
            else "no deadline"
        )
        alert_send_on_commit(
            kind=AlertKind.DISPUTE_OPENED,
            message=f"Dispute {dispute.stripe_id} opened on order {number}: {dispute.reason or 'no reason'}, "
            f"{dispute.status}, evidence due {due}",
            ids=ids,
        )
    if closed:
        alert_send_on_commit(
            kind=AlertKind.DISPUTE_CLOSED,
            message=f"Dispute {dispute.stripe_id} on order {number} closed: {dispute.status}",
            ids=ids,
        )
    becomes_respondable = dispute.status in RESPONDABLE_STATUSES and (
        created or linked or previous != dispute.status
    )
    if becomes_respondable and dispute.order_id is not None:
        from disputes.tasks import prepare_evidence

        pk = dispute.pk
        transaction.on_commit(lambda: prepare_evidence.delay(pk))


def early_fraud_warning_sync(*, obj: JsonDict, source: str, seen_at: int | None = None) -> EarlyFraudWarning:
    """Mirror a Radar early fraud warning; staff are alerted when it first arrives (and when it
    becomes actionable), with ids only. An older snapshot changes nothing."""
    seen_at = int(time.time()) if seen_at is None else seen_at
    charge_id = _id_of(obj.get("charge"))
    with transaction.atomic():
        warning = EarlyFraudWarning.objects.select_for_update().filter(stripe_id=str(obj["id"])).first()
        actionable = bool(obj.get("actionable"))
        alert = False
        if warning is None:
            created_at = obj.get("created")
            order = _order_for({"charge": charge_id, "payment_intent": obj.get("payment_intent")})
            warning, made = EarlyFraudWarning.objects.get_or_create(
                stripe_id=str(obj["id"]),
                defaults={
                    "charge_id": charge_id,
                    "payment_intent_id": _id_of(obj.get("payment_intent")),
                    "order": order,
                    "fraud_type": str(obj.get("fraud_type") or "")[:64],
                    "actionable": actionable,
                    "livemode": bool(obj.get("livemode")),
                    "stripe_created": datetime.fromtimestamp(created_at, tz=UTC)
                    if isinstance(created_at, int)
                    else None,
                    "synced_at": timezone.now(),
                    "status_at": seen_at,
                },
            )
            alert = made
        elif seen_at >= warning.status_at:
            alert = actionable and not warning.actionable
            warning.actionable = actionable
            warning.fraud_type = str(obj.get("fraud_type") or warning.fraud_type)[:64]
            warning.status_at = seen_at
            warning.synced_at = timezone.now()
            warning.save(update_fields=["actionable", "fraud_type", "status_at", "synced_at", "updated_at"])
        if alert:
            number = warning.order.number if warning.order else "(no order)"
            advice = "actionable: a refund now avoids a dispute" if warning.actionable else "not actionable"
            alert_send_on_commit(
                kind=AlertKind.EARLY_FRAUD_WARNING,
                message=f"Early fraud warning {warning.stripe_id} on order {number}, charge {charge_id}: "
                f"{warning.fraud_type or 'no type'}, {advice}",
                ids={"early_fraud_warning": warning.stripe_id, "order": number, "charge": charge_id},
            )
        return warning


def dispute_resync(*, dispute: Dispute, actor: Any = None) -> DisputeSyncResult:
    """Fetch the dispute from Stripe and apply it (staff's re-sync, and after a refused call)."""
    result = dispute_sync(obj=stripe_gateway.dispute_retrieve(dispute_id=dispute.stripe_id), source="resync")
    if actor is not None:
        staff_action_record(
            actor=actor, action="resync", target=dispute.stripe_id, outcome=result.dispute.status
        )
    return result


# ---------------------------------------------------------------------------- evidence


def _charge_of(dispute: Dispute) -> Charge | None:
    return Charge.objects.filter(stripe_id=dispute.charge_id).first()


def evidence_draft_latest(*, dispute: Dispute) -> EvidenceDraft | None:
    return dispute.drafts.order_by("-revision").first()


def _draft_create(
    *, dispute: Dispute, fields: dict[str, str], liability: Any, user: Any = None, revision: int | None = None
) -> EvidenceDraft:
    latest = evidence_draft_latest(dispute=dispute)
    number = revision or ((latest.revision + 1) if latest else 1)
    problems = evidence_problems(fields)
    return EvidenceDraft.objects.create(
        dispute=dispute,
        revision=number,
        fields=fields,
        liability_shift=liability.applies,
        liability_explanation=liability.explanation,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        problem="\n".join(problems),
    )


def evidence_draft_build(*, dispute: Dispute) -> EvidenceDraft | None:
    """Revision 1 of the evidence, from the order as it was at checkout, with the receipt uploaded
    to Stripe's Files (`dispute:<pk>:receipt:v1`, deterministic bytes, so a retry is the same
    upload). Returns the existing revision 1 if there is one, None without an order."""
    existing = dispute.drafts.filter(revision=1).first()
    if existing is not None:
        return existing
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
            draft = _draft_create(dispute=dispute, fields=fields, liability=liability, revision=1)
            if problems:
                draft.problem = "\n".join([*problems, draft.problem]).strip()
                draft.save(update_fields=["problem", "updated_at"])
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
    dispute_sync(obj=answer, source=f"evidence-draft:v{draft.revision}")
    EvidenceDraft.objects.filter(pk=draft.pk, staged_at__isnull=True).update(
        staged_at=timezone.now(), updated_at=timezone.now()
    )
    draft.refresh_from_db()
    logger.info("dispute evidence staged dispute=%s revision=%s", dispute.stripe_id, draft.revision)
    return draft


def dispute_evidence_prepare(*, dispute_pk: int) -> EvidenceDraft | None:
    """The task's work when a dispute opens: build the evidence and stage it, unless it is done,
    submitted or no longer takes a response. Safe to run twice."""
    dispute = Dispute.objects.select_related("order").filter(pk=dispute_pk).first()
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


def _refuse_unless_finance(user: Any) -> None:
    if not user_is_finance(user):
        raise DisputeActionRefused(ERROR_NOT_FINANCE)


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
    _refuse_unless_finance(user)
    dispute = Dispute.objects.select_related("order").get(pk=dispute.pk)
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
    liability = _liability_of(dispute)
    try:
        with transaction.atomic():
            draft = _draft_create(
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


def _liability_of(dispute: Dispute) -> Any:
    from disputes.evidence import liability_for

    return liability_for(charge=_charge_of(dispute), dispute_reason=dispute.reason)


# ---------------------------------------------------------------------------- staff actions


def _finish(action: StaffAction, outcome: str) -> None:
    StaffAction.objects.filter(pk=action.pk).update(outcome=outcome[:255])


def dispute_evidence_submit(*, dispute: Dispute, user: Any, extra_text: str | None = None) -> Dispute:
    """Submit the dispute's evidence to Stripe, once (Finance only).

    One conditional UPDATE claims the submission before Stripe is called, with the audit row in
    the same transaction; a second click, a retry or a race finds it claimed and sends nothing
    new. A claimed submission whose answer was lost is sent again as the same request (same
    revision, same key `dispute:<pk>:evidence-submit:v1`), which Stripe answers from its
    idempotency record. Stripe's "already submitted" answer counts as submitted. `extra_text`
    is added to the draft's `uncategorized_text` as a new revision."""
    _refuse_unless_finance(user)
    dispute = Dispute.objects.select_related("order").get(pk=dispute.pk)
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
                # Someone else claimed it (or accepted it) between our read and our UPDATE.
                return Dispute.objects.get(pk=dispute.pk)
            revision = latest.revision
            if fields != latest.fields:
                revision = _draft_create(
                    dispute=dispute, fields=fields, liability=_liability_of(dispute), user=user
                ).revision
            Dispute.objects.filter(pk=dispute.pk).update(submitted_revision=revision)
            action = staff_action_record(
                actor=user,
                action=ACTION_SUBMIT,
                target=dispute.stripe_id,
                outcome=f"submitting revision {revision}",
            )
        dispute.refresh_from_db()
    else:
        action = staff_action_record(
            actor=user,
            action=ACTION_SUBMIT,
            target=dispute.stripe_id,
            outcome="sending the claimed submission again",
        )
    return _submit_claimed(dispute, action)


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
    except InvalidRequest as error:
        # Stripe refused: perhaps it was submitted already (the Dashboard, an earlier answer we
        # lost). What Stripe has now decides.
        current = dispute_sync(
            obj=stripe_gateway.dispute_retrieve(dispute_id=dispute.stripe_id), source="submit"
        ).dispute
        if current.submission_count > 0 or current.status not in RESPONDABLE_STATUSES:
            Dispute.objects.filter(pk=dispute.pk, submitted_at__isnull=True).update(
                submitted_at=timezone.now()
            )
            _finish(action, f"already submitted on Stripe ({error.code or 'refused'})")
            return Dispute.objects.get(pk=dispute.pk)
        # A refusal staff can fix: release the claim; the corrected request gets a key of its own.
        Dispute.objects.filter(pk=dispute.pk).update(
            submit_claimed_at=None,
            submit_claimed_by=None,
            submitted_revision=None,
            submit_attempt=F("submit_attempt") + 1,
        )
        _finish(action, f"refused by Stripe: {error.code or 'invalid request'}")
        raise DisputeActionRefused(str(error)) from None
    dispute_sync(obj=answer, source="submit")
    Dispute.objects.filter(pk=dispute.pk, submitted_at__isnull=True).update(submitted_at=timezone.now())
    _finish(action, f"submitted revision {draft.revision}")
    logger.info("dispute evidence submitted dispute=%s revision=%s", dispute.stripe_id, draft.revision)
    return Dispute.objects.get(pk=dispute.pk)


def dispute_accept(*, dispute: Dispute, user: Any) -> Dispute:
    """Accept the dispute as lost (`POST /v1/disputes/{id}/close`, irreversible), once (Finance
    only), claimed by a conditional UPDATE with the audit row, key `dispute:<pk>:close:v1`."""
    _refuse_unless_finance(user)
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
    except InvalidRequest as error:
        current = dispute_sync(
            obj=stripe_gateway.dispute_retrieve(dispute_id=dispute.stripe_id), source="accept"
        ).dispute
        if current.status in CLOSED_STATUSES:
            _finish(action, f"already closed on Stripe: {current.status}")
            return current
        Dispute.objects.filter(pk=dispute.pk).update(accept_claimed_at=None, accept_claimed_by=None)
        _finish(action, f"refused by Stripe: {error.code or 'invalid request'}")
        raise DisputeActionRefused(str(error)) from None
    result = dispute_sync(obj=answer, source="accept")
    _finish(action, f"closed: {result.dispute.status}")
    return Dispute.objects.get(pk=dispute.pk)


ERROR_NOT_REFUNDABLE = (
    "Dispute {dispute} can not be answered with a refund: only an inquiry still awaiting a response, "
    "whose charge Stripe says is refundable, can."
)
ACTION_REFUND = "dispute_refund_inquiry"


def dispute_refund_inquiry(*, dispute: Dispute, user: Any) -> Dispute:
    """Answer an inquiry (`warning_needs_response`) with a full refund of what is left of the
    charge, when Stripe says `is_charge_refundable`: refunding closes the inquiry. Finance only,
    once (a conditional UPDATE claims it, with the audit row), key `dispute:<pk>:inquiry-refund:v1`.
    The Refund mirror is written by its own sync service (payments.services.refunds)."""
    _refuse_unless_finance(user)
    dispute = Dispute.objects.select_related("order").get(pk=dispute.pk)
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
    except InvalidRequest as error:
        Dispute.objects.filter(pk=dispute.pk).update(refund_claimed_at=None)
        _finish(action, f"refused by Stripe: {error.code or 'invalid request'}")
        raise DisputeActionRefused(str(error)) from None
    refund_apply(refund=refund, order=dispute.order)
    Dispute.objects.filter(pk=dispute.pk).update(refund_id=str(refund["id"]))
    _finish(action, f"refund {refund['id']} {refund.get('status') or ''}".strip())
    return Dispute.objects.get(pk=dispute.pk)


# ---------------------------------------------------------------------------- deadlines


def dispute_deadlines_check(*, now: datetime | None = None) -> int:
    """Warn 72 h and 24 h before `due_by` for every dispute without a submission, and flag the
    past-due ones: one warning per dispute and threshold (a unique row), whatever how often
    this runs. Returns the number of warnings sent."""
    now = now or timezone.now()
    due = (
        Dispute.objects.select_related("order")
        .filter(
            status__in=RESPONDABLE_STATUSES,
            submission_count=0,
            submitted_at__isnull=True,
            submit_claimed_at__isnull=True,
            evidence_due_by__isnull=False,
            evidence_due_by__lte=now + timedelta(hours=WARNING_THRESHOLDS[-1][1]),
        )
        .order_by("evidence_due_by")
    )
    sent = 0
    for dispute in due.iterator():
        assert dispute.evidence_due_by is not None
        left = dispute.evidence_due_by - now
        hours_left = int(left.total_seconds() // 3600)
        if left <= timedelta(0):
            crossed: list[str] = [DeadlineWarning.Threshold.PAST_DUE]
        else:
            crossed = [name for name, hours in WARNING_THRESHOLDS if left <= timedelta(hours=hours)]
        new = []
        for threshold in crossed:
            _, made = DeadlineWarning.objects.get_or_create(
                dispute=dispute, threshold=threshold, defaults={"hours_left": hours_left}
            )
            if made:
                new.append(threshold)
        if not new:
            continue
        # The tightest new threshold speaks; a looser one crossed at the same time stays quiet.
        tightest = crossed[0]
        if tightest not in new:
            continue
        number = dispute.order.number if dispute.order else "(no order)"
        ids: dict[str, str | int | None] = {
            "dispute": dispute.stripe_id,
            "order": number,
            "hours_left": hours_left,
        }
        if tightest == DeadlineWarning.Threshold.PAST_DUE:
            alert_send(
                kind=AlertKind.DISPUTE_PAST_DUE,
                message=f"Dispute {dispute.stripe_id} on order {number} is past its evidence deadline "
                "with nothing submitted",
                ids=ids,
            )
        else:
            alert_send(
                kind=AlertKind.DISPUTE_DEADLINE,
                message=f"Dispute {dispute.stripe_id} on order {number}: evidence due in {hours_left} h, "
                "nothing submitted yet",
                ids=ids,
            )
        sent += 1
    return sent
