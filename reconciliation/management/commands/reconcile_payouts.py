"""`python manage.py reconcile_payouts`: reconcile every paid payout not reconciled yet."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from reconciliation.models import Payout
from reconciliation.services.payouts import payout_reconcile, payouts_to_reconcile


class Command(BaseCommand):
    help = "Reconcile every paid automatic payout that is not reconciled yet (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        pending = Payout.objects.filter(status=Payout.Status.PAID, automatic=True, reconciled=False).count()
        reconciled = unexplained = 0
        quiet = options.get("verbosity", 1) == 0
        with tqdm(total=pending, unit="payout", file=self.stderr, disable=quiet) as bar:
            for payout_id in payouts_to_reconcile():
                result = payout_reconcile(payout_id=payout_id)
                if result.reconciled:
                    reconciled += 1
                else:
                    unexplained += 1
                    self.stdout.write(f"{payout_id}: {result.unexplained} unexplained {result.note}".rstrip())
                bar.update(1)
        self.stdout.write(f"{reconciled} payout(s) reconciled, {unexplained} not adding up.")
