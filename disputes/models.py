"""The dispute and early fraud warning mirrors, the evidence drafts and the deadline warnings.

A dispute points at its charge and PaymentIntent by their Stripe ids (`charge_id`,
`payment_intent_id`): the columns are foreign keys to the mirrors' `stripe_id` without a database
constraint, because a dispute event can arrive before the Charge mirror has been written (events
come out of order). The link is there as soon as the Charge row is, with no back-fill, and
`charge_id` keeps being the `ch_…` string everyone filters on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from config.models import StripeMirror, TimeStampedModel
from config.money import format_money


class Dispute(StripeMirror):
    class Status(models.TextChoices):
        WARNING_NEEDS_RESPONSE = "warning_needs_response"
        WARNING_UNDER_REVIEW = "warning_under_review"
        WARNING_CLOSED = "warning_closed"
        NEEDS_RESPONSE = "needs_response"
        UNDER_REVIEW = "under_review"
        WON = "won"
        LOST = "lost"
        PREVENTED = "prevented"

    charge = models.ForeignKey(
        "payments.Charge",
        to_field="stripe_id",
        db_column="charge_id",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="disputes",
        # Null only so that joins are outer joins (a dispute whose Charge row is not there yet
        # still lists); every dispute has a charge.
        null=True,
        blank=True,
    )
    payment_intent = models.ForeignKey(
        "payments.PaymentIntent",
        to_field="stripe_id",
        db_column="payment_intent_id",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="disputes",
        null=True,
        blank=True,
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="disputes", null=True, blank=True
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=Status.choices)
    status_at = models.BigIntegerField(default=0, help_text="Stripe time of the snapshot applied.")
    reason = models.CharField(max_length=64, blank=True)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    has_evidence = models.BooleanField(default=False, help_text="Stripe says evidence is staged.")
    past_due = models.BooleanField(default=False)
    submission_count = models.PositiveIntegerField(default=0)
    is_charge_refundable = models.BooleanField(default=False)
    network_reason_code = models.CharField(max_length=32, blank=True)
    case_type = models.CharField(max_length=32, blank=True, help_text="payment_method_details.card.case_type")
    card_brand = models.CharField(max_length=32, blank=True)
    enhanced_eligibility_types = models.JSONField(default=list, blank=True)
    # Submitting evidence is claimed by one conditional UPDATE before Stripe is called: the claim
    # is what makes a second click, a retry or a race submit nothing more.
    submit_claimed_at = models.DateTimeField(null=True, blank=True)
    submit_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_revision = models.PositiveIntegerField(null=True, blank=True)
    # Bumped only when Stripe refused a submission for a reason staff can fix, so the corrected
    # request gets a key of its own (`dispute:<pk>:evidence-submit:v<n>`).
    submit_attempt = models.PositiveIntegerField(default=1)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="When Stripe confirmed it.")
    accept_claimed_at = models.DateTimeField(null=True, blank=True)
    accept_claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # An inquiry answered with a refund instead: claimed like the other actions.
    refund_claimed_at = models.DateTimeField(null=True, blank=True)
    refund_id = models.CharField(max_length=255, blank=True, help_text="The re_… of that refund.")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["evidence_due_by", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="dispute_amount_non_negative")
        ]
        indexes = [models.Index(fields=["status", "evidence_due_by"], name="dispute_status_due_by")]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency)}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def needs_response(self) -> bool:
        return self.status in RESPONDABLE_STATUSES

    @property
    def submitted(self) -> bool:
        return self.submission_count > 0 or self.submitted_at is not None


RESPONDABLE_STATUSES = (Dispute.Status.NEEDS_RESPONSE, Dispute.Status.WARNING_NEEDS_RESPONSE)
UNDER_REVIEW_STATUSES = (Dispute.Status.UNDER_REVIEW, Dispute.Status.WARNING_UNDER_REVIEW)
OPEN_STATUSES = (*RESPONDABLE_STATUSES, *UNDER_REVIEW_STATUSES)
CLOSED_STATUSES = (
    Dispute.Status.WON,
    Dispute.Status.LOST,
    Dispute.Status.WARNING_CLOSED,
    Dispute.Status.PREVENTED,
)
# Forward-only (invariant 5): an inquiry can become a chargeback, a response goes under review,
# and a closed dispute is final. Within one rank the snapshot with the newer Stripe time wins.
DISPUTE_STATUS_RANK: dict[str, int] = {
    Dispute.Status.WARNING_NEEDS_RESPONSE: 0,
    Dispute.Status.WARNING_UNDER_REVIEW: 1,
    Dispute.Status.NEEDS_RESPONSE: 2,
    Dispute.Status.UNDER_REVIEW: 3,
    Dispute.Status.WON: 10,
    Dispute.Status.LOST: 10,
    Dispute.Status.WARNING_CLOSED: 10,
    Dispute.Status.PREVENTED: 10,
}


class EvidenceDraft(TimeStampedModel):
    """One revision of a dispute's evidence, `fields` keyed as Stripe names them
    (`customer_email_address`, `receipt`, …). A revision never changes once staged: an edit is
    a new revision, staged under its own key `dispute:<pk>:evidence-draft:v<revision>`.

    Holds personal data by nature: it goes to Stripe and to Finance staff, nowhere else."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="drafts")
    revision = models.PositiveIntegerField()
    fields = models.JSONField(default=dict)
    liability_shift = models.BooleanField(default=False)
    liability_explanation = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    staged_at = models.DateTimeField(null=True, blank=True)
    problem = models.TextField(blank=True, help_text="Why it was not sent (Stripe's limits), for staff.")

    class Meta:
        ordering = ["dispute", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "revision"], name="evidence_draft_revision_unique"),
            models.CheckConstraint(
                condition=models.Q(revision__gte=1), name="evidence_draft_revision_positive"
            ),
        ]

    def __str__(self) -> str:
        state = "staged" if self.staged_at else ("refused" if self.problem else "not staged")
        return f"Evidence for {self.dispute.stripe_id} · r{self.revision} · {state}"


class DeadlineWarning(TimeStampedModel):
    """One warning per dispute and threshold: the unique row is what keeps the beat job from
    warning again on its next run."""

    class Threshold(models.TextChoices):
        HOURS_72 = "72h", "72 hours left"
        HOURS_24 = "24h", "24 hours left"
        PAST_DUE = "past_due", "Past due"

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="deadline_warnings")
    threshold = models.CharField(max_length=16, choices=Threshold.choices)
    hours_left = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dispute", "threshold"], name="deadline_warning_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dispute.stripe_id} · {self.threshold}"


class EarlyFraudWarning(StripeMirror):
    """Mirror of a Radar early fraud warning (`issfr_…`): the issuer reported the charge as
    fraud, and a dispute may follow; refunding an actionable one avoids it."""

    charge_id = models.CharField(max_length=255, db_index=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="early_fraud_warnings", null=True, blank=True
    )
    fraud_type = models.CharField(max_length=64, blank=True)
    actionable = models.BooleanField(default=False)
    status_at = models.BigIntegerField(default=0, help_text="Stripe time of the snapshot applied.")

    class Meta:
        ordering = ["-stripe_created", "-pk"]

    def __str__(self) -> str:
        return (
            f"{self.stripe_id} · {self.fraud_type} · {'actionable' if self.actionable else 'not actionable'}"
        )
