"""The dispute mirror. Evidence drafts and submissions come with the disputes issue."""

from django.db import models

from config.models import StripeMirror
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

    charge_id = models.CharField(max_length=255, db_index=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=Status.choices)
    reason = models.CharField(max_length=64, blank=True)
    evidence_due_by = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="dispute_amount_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency)}"
