"""Reads of disputes: lists and pages come from our mirrors, never from the live API."""

from __future__ import annotations

from django.db.models import Case, Exists, F, IntegerField, OuterRef, QuerySet, Value, When

from disputes.evidence import liability_for
from disputes.liability import LiabilityShift
from disputes.models import OPEN_STATUSES, Dispute, EvidenceDraft


def dispute_list(*, status: str | None = None) -> QuerySet[Dispute]:
    """Disputes, open ones first by deadline (the soonest first), then the closed ones newest
    first; optionally of one Stripe status."""
    disputes = (
        Dispute.objects.select_related("order", "charge")
        .annotate(
            draft_staged=Exists(
                EvidenceDraft.objects.filter(dispute=OuterRef("pk"), staged_at__isnull=False)
            ),
            open_first=Case(
                When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
        )
        .order_by("open_first", F("evidence_due_by").asc(nulls_last=True), "-stripe_created", "pk")
    )
    if status:
        disputes = disputes.filter(status=status)
    return disputes


def dispute_get_by_stripe_id(*, stripe_id: str) -> Dispute | None:
    if not stripe_id:
        return None
    return Dispute.objects.select_related("order", "charge").filter(stripe_id=stripe_id).first()


def dispute_liability(*, dispute: Dispute) -> LiabilityShift:
    """Whether 3-D Secure shifted this dispute's liability, from the Charge mirror."""
    return liability_for(charge=dispute.charge, dispute_reason=dispute.reason)


def dispute_draft_latest(*, dispute: Dispute) -> EvidenceDraft | None:
    return dispute.drafts.order_by("-revision").first()


def dispute_evidence_staged(*, dispute: Dispute) -> bool:
    """Stripe says evidence is staged, or our draft was put there (`dispute_list` annotates it)."""
    annotated = getattr(dispute, "draft_staged", None)
    if annotated is not None:
        return dispute.has_evidence or bool(annotated)
    return dispute.has_evidence or dispute.drafts.filter(staged_at__isnull=False).exists()
