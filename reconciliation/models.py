"""Payouts, the balance transactions paid out in them, the discrepancies the ledger check finds,
and the runs every beat job records.

A payout is one bank deposit. Its balance transactions (`GET /v1/balance_transactions?payout=po_…`)
are what it is made of: charges, refunds, disputes, fees, adjustments, and its own `type=payout`
transaction (net = −amount). Stripe's BalanceTransaction has no payout field; the link is ours."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from config.models import StripeMirror, TimeStampedModel
from config.money import format_money

CURRENCY_REGEX = r"^[a-z]{3}$"


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


class Payout(StripeMirror):
    """Mirror of a Stripe Payout (`po_…`), kept by `payout_sync` from `payout.*` events, our own
    fetches and the ledger check. `reconciled` and `unexplained` are ours: written only by
    `payout_reconcile`, with the payout row locked."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_TRANSIT = "in_transit", "In transit"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    amount = models.BigIntegerField(help_text="Minor units; what reaches the bank.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices)
    status_at = models.BigIntegerField(default=0, help_text="Stripe time of the snapshot applied.")
    arrival_date = models.DateTimeField(null=True, blank=True, db_index=True)
    automatic = models.BooleanField(default=True)
    method = models.CharField(max_length=16, blank=True)
    type = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=255, blank=True)
    # The bank's reference for the deposit; `pending` for up to 10 days after arrival_date.
    trace_id = models.CharField(max_length=255, blank=True, db_index=True)
    trace_id_status = models.CharField(max_length=32, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    balance_transaction_id = models.CharField(max_length=255, blank=True, db_index=True)
    failure_balance_transaction_id = models.CharField(max_length=255, blank=True)
    # Stripe's own: `completed` once every balance transaction of the payout can be listed.
    reconciliation_status = models.CharField(max_length=32, blank=True)

    reconciled = models.BooleanField(default=False)
    unexplained = models.BigIntegerField(
        null=True, blank=True, help_text="amount − Σnet of its non-payout transactions; null until checked."
    )
    lines_count = models.PositiveIntegerField(default=0)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-stripe_created", "-pk"]
        indexes = [
            models.Index(fields=["stripe_created", "id"], name="payout_created_id"),
            models.Index(
                fields=["status"], condition=models.Q(reconciled=False), name="payout_not_reconciled"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=CURRENCY_REGEX), name="payout_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(reconciled=False) | models.Q(unexplained=0),
                name="payout_reconciled_means_nothing_unexplained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.status} · {format_money(self.amount, self.currency)}"


# Forward-only (invariant 5): pending → in_transit → paid; a paid payout can still fail ("Some
# payouts that fail might initially show as paid", Stripe's API reference for Payout.status), so
# failed ranks above paid.
PAYOUT_STATUS_RANK: dict[str, int] = {
    Payout.Status.PENDING: 0,
    Payout.Status.IN_TRANSIT: 1,
    Payout.Status.PAID: 2,
    Payout.Status.FAILED: 3,
    Payout.Status.CANCELED: 3,
}
RECONCILIATION_STATUS_RANK: dict[str, int] = {"": 0, "in_progress": 1, "not_applicable": 2, "completed": 2}


class BalanceTransaction(StripeMirror):
    """Mirror of a Stripe BalanceTransaction (`txn_…`), written in bulk by the payout
    reconciliation. `type` and `reporting_category` are stored as Stripe sent them, known or not."""

    type = models.CharField(max_length=64)
    reporting_category = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, blank=True)
    amount = models.BigIntegerField()
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    fee_details = models.JSONField(default=list, blank=True)
    available_on = models.DateTimeField(null=True, blank=True)
    # Not money: a conversion factor, kept exactly as a decimal (never a float).
    exchange_rate = models.DecimalField(max_digits=30, decimal_places=15, null=True, blank=True)
    description = models.CharField(max_length=255, blank=True)
    source_id = models.CharField(max_length=255, blank=True, db_index=True)
    source_kind = models.CharField(
        max_length=64, blank=True, help_text="The source's `object`: charge, refund, …"
    )

    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, related_name="balance_transactions", null=True, blank=True
    )
    charge = models.ForeignKey(
        "payments.Charge",
        on_delete=models.PROTECT,
        related_name="balance_transactions",
        null=True,
        blank=True,
    )
    refund = models.ForeignKey(
        "payments.Refund",
        on_delete=models.PROTECT,
        related_name="balance_transactions",
        null=True,
        blank=True,
    )
    dispute = models.ForeignKey(
        "disputes.Dispute",
        on_delete=models.PROTECT,
        related_name="balance_transactions",
        null=True,
        blank=True,
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="balance_transactions", null=True, blank=True
    )

    class Meta:
        ordering = ["stripe_created", "pk"]
        indexes = [models.Index(fields=["payout", "stripe_created", "id"], name="bt_payout_lines")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=CURRENCY_REGEX), name="bt_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(net=models.F("amount") - models.F("fee")),
                name="bt_net_is_amount_minus_fee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.type} · {format_money(self.net, self.currency)}"


class Discrepancy(TimeStampedModel):
    """One difference between Stripe and our books, found by the ledger check or a payout that
    does not add up. At most one open case per kind and object (a second run opens nothing new);
    resolved by finance staff with a note (`discrepancy_resolve`, audited)."""

    class Kind(models.TextChoices):
        MISSING_LOCAL = "missing_local", "Stripe has it, we do not"
        MISSING_REMOTE = "missing_remote", "We have it, Stripe does not"
        STATUS_MISMATCH = "status_mismatch", "Status differs"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount differs"
        IN_FLIGHT = "in_flight", "Still in flight after the grace period"
        DUPLICATE = "duplicate", "Duplicate"
        PAYOUT_RESIDUAL = "payout_residual", "Payout does not add up"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AUTO_FIXED = "auto_fixed", "Fixed automatically"
        RESOLVED = "resolved", "Resolved by staff"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    object_id = models.CharField(max_length=255, db_index=True, help_text="The Stripe id it is about.")
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="discrepancies", null=True, blank=True
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    detail = models.TextField(blank=True, help_text="Identifiers and amounts only.")
    run = models.ForeignKey(ReconciliationRun, on_delete=models.SET_NULL, null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "discrepancies"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_id"],
                condition=models.Q(status="open"),
                name="discrepancy_one_open_per_kind_and_object",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="resolved") | models.Q(resolved_at__isnull=False),
                name="discrepancy_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="discrepancy_status_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.object_id} · {self.status}"

    @property
    def opened_at(self) -> datetime:
        return self.created_at
