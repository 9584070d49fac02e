"""Reconciliation runs. Payouts, balance transactions and discrepancies come with the
reconciliation issue; a run is the unit every beat job records."""

from django.db import models

from config.models import TimeStampedModel


class ReconciliationRun(TimeStampedModel):
    class Kind(models.TextChoices):
        PAYOUT = "payout", "Payout"
        LEDGER = "ledger", "Ledger"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run #{self.pk} · {self.status}"
