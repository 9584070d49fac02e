"""The ledger check: Stripe's payouts, charges, refunds, disputes and invoices of a window against
our books.

Each difference is a Discrepancy of one kind (one open case per kind and object, so a second run
opens nothing new). A difference with a safe fix (a paid charge whose event never came, a refund
we never heard of, a refund whose final status we missed) goes through the same idempotent,
forward-only service as the webhook (`stripe_object_apply`) and is recorded as auto-fixed. A
case whose difference has gone by the next run is closed as auto-fixed. Differences on objects
younger than the grace period are left alone: their events may still be on their way.

Our side of a charge is its Charge mirror when we hold one, else the order it belongs to. An
invoice we lack or hold in an older status is repaired by fetching its subscription
(`billing_refresh`, what every billing event does), so what a subscriber may use follows Stripe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import Invoice
from billing.services import billing_refresh
from core.stripe_objects import id_of
from disputes.models import Dispute
from orders.models import STATUS_RANK, Order
from orders.selectors import order_find_for_stripe_object
from payments import stripe_gateway
from payments.models import REFUND_STATUS_RANK, Charge, Refund
from payments.services.events.receive import stripe_live_mode
from payments.services.objects import stripe_object_apply
from reconciliation.models import Discrepancy, ReconciliationRun
from reconciliation.services.discrepancies import (
    discrepancy_close,
    discrepancy_open,
    discrepancy_record_fixed,
)
from reconciliation.services.payouts import payout_reconcile, payout_sync

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
Progress = Callable[[str, int], None]

LEDGER_NIGHTLY_WINDOW = timedelta(days=2)
# Webhooks usually land in seconds; Stripe retries a failed delivery for up to 3 days, but the
# recovery job (GET /v1/events every 5 minutes) closes that gap within minutes.
IN_FLIGHT_GRACE = timedelta(hours=1)
SOURCE = "ledger"
PAID_RANK = STATUS_RANK[Order.Status.PAID]
Kind = Discrepancy.Kind

# Kinds the check decides per object; an open case of one of them that the object no longer
# shows is closed (the difference has gone). Duplicates and payout residuals close elsewhere.
PER_OBJECT_KINDS = (
    Kind.MISSING_LOCAL,
    Kind.MISSING_REMOTE,
    Kind.STATUS_MISMATCH,
    Kind.AMOUNT_MISMATCH,
    Kind.IN_FLIGHT,
)


@dataclass
class LedgerResult:
    run_id: int
    checked: int = 0
    opened: int = 0
    auto_fixed: int = 0
    closed: int = 0
    too_young: int = 0
    payouts_reconciled: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"checked {self.checked} objects: opened {self.opened}, auto-fixed {self.auto_fixed}, "
            f"closed {self.closed}, left for later {self.too_young} (younger than the grace period), "
            f"payouts reconciled {self.payouts_reconciled}"
        )


def _paid(order: Order) -> bool:
    """Paid here, or past paid (fulfilled, refunded, disputed)."""
    return STATUS_RANK[order.status] >= PAID_RANK


def _order_of_charge(obj: JsonDict) -> Order | None:
    """The order of a refund's or dispute's charge: by our Charge mirror, else by its ids."""
    charge_id = id_of(obj.get("charge"))
    order = Order.objects.filter(charges__stripe_id=charge_id).first()  # no mirror has the id ""
    return order or order_find_for_stripe_object(obj=obj)


class _Check:
    def __init__(
        self, *, run: ReconciliationRun, now: datetime, since: datetime, progress: Progress | None
    ) -> None:
        self.run = run
        self.now = now
        self.since = since
        self.young_after = int((now - IN_FLIGHT_GRACE).timestamp())
        self.progress = progress
        self.result = LedgerResult(run_id=run.pk)
        # Open cases at the start: the few we may close. Keyed (kind, object id).
        self.open_cases = set(
            Discrepancy.objects.filter(status=Discrepancy.Status.OPEN, kind__in=PER_OBJECT_KINDS).values_list(
                "kind", "object_id"
            )
        )
        self.seen: dict[str, set[str]] = {
            "charge": set(),
            "refund": set(),
            "dispute": set(),
            "invoice": set(),
        }
        self.paid_charge_by_order: dict[int, str] = {}

    # ------------------------------------------------------------------ recording

    def _tick(self, what: str) -> None:
        self.result.checked += 1
        if self.progress is not None:
            self.progress(what, self.result.checked)

    def open(self, kind: str, object_id: str, detail: str, order: Order | None = None) -> None:
        _, opened = discrepancy_open(kind=kind, object_id=object_id, detail=detail, order=order, run=self.run)
        self.open_cases.discard((kind, object_id))
        if opened:
            self.result.opened += 1
            self.result.kinds[kind] = self.result.kinds.get(kind, 0) + 1

    def fixed(self, kind: str, object_id: str, detail: str, order: Order | None) -> None:
        discrepancy_record_fixed(kind=kind, object_id=object_id, detail=detail, order=order, run=self.run)
        self.open_cases.discard((kind, object_id))
        self.result.auto_fixed += 1

    def settle(self, object_id: str, found: set[str]) -> None:
        """Close the open cases of this object whose difference the check no longer finds."""
        for kind in PER_OBJECT_KINDS:
            if kind not in found and (kind, object_id) in self.open_cases:
                discrepancy_close(kind=kind, object_id=object_id, note="no longer differs from Stripe")
                self.open_cases.discard((kind, object_id))
                self.result.closed += 1

    def _young(self, obj: JsonDict) -> bool:
        created = int(obj.get("created") or 0)  # pragma: no mutate: 0 and 1 are both long past
        return created > self.young_after

    def _apply(self, obj: JsonDict) -> Order | None:
        return stripe_object_apply(obj=obj, seen_at=None, source=f"{SOURCE}:{obj['id']}").order

    # ------------------------------------------------------------------ payouts

    def payouts(self) -> None:
        """Payouts whose events never came are found here, synced and reconciled."""
        for obj in stripe_gateway.payout_list(since=int(self.since.timestamp())):
            self._tick("payouts")
            result = payout_sync(obj=obj, source=SOURCE)
            reconciled = result.ready_to_reconcile and payout_reconcile(payout_id=result.payout.stripe_id)
            if reconciled and reconciled.reconciled:
                self.result.payouts_reconciled += 1

    # ------------------------------------------------------------------ charges

    def charge(self, obj: JsonDict) -> None:
        charge_id = str(obj["id"])
        self.seen["charge"].add(charge_id)
        with transaction.atomic():
            found = self._charge(obj, charge_id)
        self.settle(charge_id, found)

    def _charge(self, obj: JsonDict, charge_id: str) -> set[str]:
        status = obj.get("status")
        amount = int(obj.get("amount") or 0)
        currency = str(obj.get("currency") or "")
        with_order = Charge.objects.select_related("order")  # pragma: no mutate: it only saves queries
        local = with_order.filter(stripe_id=charge_id).first()
        order = local.order if local is not None and local.order_id else order_find_for_stripe_object(obj=obj)
        if self._young(obj):
            self.result.too_young += 1
            return {kind for kind, object_id in self.open_cases if object_id == charge_id}
        if status == "pending":
            self.open(
                Kind.IN_FLIGHT, charge_id, f"{charge_id}: still pending at Stripe, {amount} {currency}", order
            )
            return {Kind.IN_FLIGHT}
        if local is None and order is None:
            if status != "succeeded":
                return set()
            detail = f"{charge_id}: succeeded at Stripe, {amount} {currency}; no charge or order of ours"
            self.open(Kind.MISSING_LOCAL, charge_id, detail)
            return {Kind.MISSING_LOCAL}
        found: set[str] = set()
        ours = local or order  # our side: the mirror, else the order (one is set: see above)
        ours_amount = ours.amount if ours else 0  # pragma: no mutate: ours is never None here
        if ours_amount != amount:
            detail = f"{charge_id}: Stripe {amount} {currency}, ours {ours_amount}"
            self.open(Kind.AMOUNT_MISMATCH, charge_id, detail, order)
            found.add(Kind.AMOUNT_MISMATCH)
        ours_paid = (
            local.status == Charge.Status.SUCCEEDED
            if local is not None
            else order is not None and _paid(order)
        )
        if status == "succeeded" and obj.get("paid", True):
            self._duplicate_check(charge_id, order, obj)
            if not ours_paid:
                # A missed success: the safe fix is the webhook's own forward-only service.
                kind = Kind.STATUS_MISMATCH if local is not None else Kind.MISSING_LOCAL
                fixed_order = self._apply(obj)
                if fixed_order is not None and _paid(fixed_order):
                    detail = (
                        f"{charge_id}: succeeded at Stripe, not paid here; applied ({fixed_order.number})"
                    )
                    self.fixed(kind, charge_id, detail, fixed_order)
                else:
                    self.open(kind, charge_id, f"{charge_id}: succeeded at Stripe, not paid here", order)
                    found.add(kind)
        elif (
            status == "failed"
            and ours_paid
            and (local is not None or (order and order.charge_id == charge_id))
        ):
            self.open(Kind.STATUS_MISMATCH, charge_id, f"{charge_id}: failed at Stripe, paid here", order)
            found.add(Kind.STATUS_MISMATCH)
        return found

    def _duplicate_check(self, charge_id: str, order: Order | None, obj: JsonDict) -> None:
        """Two succeeded, unrefunded charges for one order: the customer paid twice."""
        if order is None or obj.get("refunded"):
            return
        first = self.paid_charge_by_order.setdefault(order.pk, charge_id)
        if first != charge_id:
            detail = f"{order.number}: charged twice at Stripe, {first} and {charge_id}"
            self.open(Kind.DUPLICATE, charge_id, detail, order)

    # ------------------------------------------------------------------ refunds

    def refund(self, obj: JsonDict) -> None:
        refund_id = str(obj["id"])
        self.seen["refund"].add(refund_id)
        with transaction.atomic():
            found = self._refund(obj, refund_id)
        self.settle(refund_id, found)

    def _refund(self, obj: JsonDict, refund_id: str) -> set[str]:
        status = str(obj.get("status") or "")
        amount = int(obj.get("amount") or 0)
        with_order = Refund.objects.select_related("order")  # pragma: no mutate: it only saves queries
        local = with_order.filter(stripe_id=refund_id).first()
        if self._young(obj):
            self.result.too_young += 1
            return {kind for kind, object_id in self.open_cases if object_id == refund_id}
        found: set[str] = set()
        if local is None:
            # A refund we never heard of: mirror it (and raise the order's refunded amount).
            order = self._apply(obj)
            self.fixed(
                Kind.MISSING_LOCAL, refund_id, f"{refund_id}: {status} at Stripe, {amount}; mirrored", order
            )
            local = Refund.objects.filter(stripe_id=refund_id).first()
        elif local.status != status:
            rank = REFUND_STATUS_RANK.get(status, -1)  # pragma: no mutate: -1 or -2, under every rank
            if rank > REFUND_STATUS_RANK.get(local.status, -1):
                order = self._apply(obj)
                self.fixed(
                    Kind.STATUS_MISMATCH,
                    refund_id,
                    f"{refund_id}: {local.status} here, {status} at Stripe; applied",
                    order,
                )
            else:
                detail = f"{refund_id}: {status} at Stripe, {local.status} here"
                self.open(Kind.STATUS_MISMATCH, refund_id, detail, local.order)
                found.add(Kind.STATUS_MISMATCH)
        if local is not None and local.amount != amount:
            detail = f"{refund_id}: Stripe {amount}, ours {local.amount}"
            self.open(Kind.AMOUNT_MISMATCH, refund_id, detail, local.order)
            found.add(Kind.AMOUNT_MISMATCH)
        if status == "pending" and Kind.STATUS_MISMATCH not in found:
            self.open(
                Kind.IN_FLIGHT,
                refund_id,
                f"{refund_id}: still pending at Stripe, {amount}",
                local.order if local else None,
            )
            found.add(Kind.IN_FLIGHT)
        return found

    # ------------------------------------------------------------------ disputes

    def dispute(self, obj: JsonDict) -> None:
        dispute_id = str(obj["id"])
        self.seen["dispute"].add(dispute_id)
        found = self._dispute(obj, dispute_id)
        self.settle(dispute_id, found)

    def _dispute(self, obj: JsonDict, dispute_id: str) -> set[str]:
        status = str(obj.get("status") or "")
        amount = int(obj.get("amount") or 0)
        if self._young(obj):
            self.result.too_young += 1
            return {kind for kind, object_id in self.open_cases if object_id == dispute_id}
        local = Dispute.objects.filter(stripe_id=dispute_id).first()
        order = _order_of_charge(obj)
        # Disputes are kept by the disputes app's own sync; this check reports, it does not fix.
        if local is None:
            self.open(
                Kind.MISSING_LOCAL,
                dispute_id,
                f"{dispute_id}: {status} at Stripe, {amount}; not mirrored",
                order,
            )
            return {Kind.MISSING_LOCAL}
        found: set[str] = set()
        if local.status != status:
            self.open(
                Kind.STATUS_MISMATCH,
                dispute_id,
                f"{dispute_id}: {status} at Stripe, {local.status} here",
                order,
            )
            found.add(Kind.STATUS_MISMATCH)
        if local.amount != amount:
            self.open(
                Kind.AMOUNT_MISMATCH, dispute_id, f"{dispute_id}: Stripe {amount}, ours {local.amount}", order
            )
            found.add(Kind.AMOUNT_MISMATCH)
        return found

    # ------------------------------------------------------------------ invoices

    def invoice(self, obj: JsonDict) -> None:
        invoice_id = str(obj.get("id") or "")
        if not invoice_id:
            return  # an upcoming invoice has no id: nothing to compare yet
        self.seen["invoice"].add(invoice_id)
        self.settle(invoice_id, self._invoice(obj, invoice_id))

    def _invoice(self, obj: JsonDict, invoice_id: str) -> set[str]:
        status = str(obj.get("status") or "")
        if self._young(obj):
            self.result.too_young += 1
            return {kind for kind, object_id in self.open_cases if object_id == invoice_id}
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        subscription_id = id_of(parent.get("subscription"))
        local = Invoice.objects.filter(stripe_id=invoice_id).first()
        if (local is None or local.status != status) and subscription_id:
            kind = Kind.MISSING_LOCAL if local is None else Kind.STATUS_MISMATCH
            before = "missing here" if local is None else f"{local.status} here"
            billing_refresh(subscription_id=subscription_id, invoice_id=invoice_id)
            local = Invoice.objects.filter(stripe_id=invoice_id).first()
            if local is not None and local.status == status:
                self.fixed(kind, invoice_id, f"{invoice_id}: {before}, {status} at Stripe; synced", None)
        found: set[str] = set()
        if local is None:
            self.open(Kind.MISSING_LOCAL, invoice_id, f"{invoice_id}: {status} at Stripe; not mirrored")
            return {Kind.MISSING_LOCAL}
        if local.status != status:
            self.open(
                Kind.STATUS_MISMATCH, invoice_id, f"{invoice_id}: {status} at Stripe, {local.status} here"
            )
            found.add(Kind.STATUS_MISMATCH)
        amount_due = int(obj.get("amount_due") or 0)
        if local.amount_due != amount_due:
            detail = f"{invoice_id}: Stripe {amount_due} due, ours {local.amount_due}"
            self.open(Kind.AMOUNT_MISMATCH, invoice_id, detail)
            found.add(Kind.AMOUNT_MISMATCH)
        return found

    # ------------------------------------------------------------------ ours, not Stripe's

    def missing_remote(self) -> None:
        """Charges, refunds and disputes of the window that we hold and Stripe did not list. Each
        is fetched by id before it is reported: one created just before the window (an order
        paid inside it) is checked like the others."""
        young = self.now - IN_FLIGHT_GRACE
        live = stripe_live_mode()
        window = {"stripe_created__gte": self.since, "stripe_created__lte": young, "livemode": live}
        candidates: list[tuple[str, str, Order | None]] = []
        with_order = Charge.objects.select_related("order")  # pragma: no mutate: it only saves queries
        for charge in with_order.filter(**window).exclude(stripe_id__in=self.seen["charge"]):
            candidates.append(("charge", charge.stripe_id, charge.order))
        paid_orders = Order.objects.filter(
            paid_at__gte=self.since, paid_at__lte=young, livemode=live
        ).exclude(charge_id="")
        for paid in paid_orders.exclude(charge_id__in=self.seen["charge"]).exclude(
            charge_id__in=[c for _, c, _ in candidates]
        ):
            candidates.append(("charge", paid.charge_id, paid))
        refunds = Refund.objects.select_related("order")  # pragma: no mutate: it only saves queries
        for refund in refunds.filter(**window).exclude(stripe_id__in=self.seen["refund"]):
            candidates.append(("refund", refund.stripe_id, refund.order))
        for kind, object_id, order in candidates:
            self._tick(f"{kind}s of ours")
            try:
                obj = stripe_gateway.object_retrieve(object_id=object_id)
            except stripe_gateway.InvalidRequest as error:
                if error.code != "resource_missing":
                    raise
                self.open(
                    Kind.MISSING_REMOTE, object_id, f"{object_id}: ours, Stripe has no such {kind}", order
                )
                continue
            (self.charge if kind == "charge" else self.refund)(obj)
        for dispute in Dispute.objects.filter(**window).exclude(stripe_id__in=self.seen["dispute"]):
            self._tick("disputes of ours")
            self.open(
                Kind.MISSING_REMOTE, dispute.stripe_id, f"{dispute.stripe_id}: ours, not listed by Stripe"
            )


RUN_FIELDS = ["status", "finished_at", "summary", "updated_at"]


def ledger_check(
    *, window: timedelta, now: datetime | None = None, progress: Progress | None = None
) -> LedgerResult:
    """Compare Stripe's payouts, charges, refunds, disputes and invoices created in the last `window` with
    our books and record every difference (see the module docstring). Idempotent: a second run
    over the same state opens nothing new. Records a ReconciliationRun with the figures."""
    now = now or timezone.now()
    since = now - window
    run = ReconciliationRun.objects.create(
        kind=ReconciliationRun.Kind.LEDGER, summary={"since": since.isoformat()}
    )
    check = _Check(run=run, now=now, since=since, progress=progress)
    start = int(since.timestamp())
    status = ReconciliationRun.Status.FAILED
    try:
        check.payouts()
        for obj in stripe_gateway.charge_list(since=start):
            check._tick("charges")
            check.charge(obj)
        for obj in stripe_gateway.refund_list(since=start):
            check._tick("refunds")
            check.refund(obj)
        for obj in stripe_gateway.dispute_list(since=start):
            check._tick("disputes")
            check.dispute(obj)
        for obj in stripe_gateway.invoice_list_created(since=start):
            check._tick("invoices")
            check.invoice(obj)
        check.missing_remote()
        status = ReconciliationRun.Status.SUCCEEDED
    finally:  # a run that fails midway is recorded as failed, with its figures so far
        run.status = status
        run.finished_at = timezone.now()
        run.summary = {**run.summary, **_summary(check.result)}
        run.save(update_fields=RUN_FIELDS)  # pragma: no mutate: nothing else writes the run's row
    logger.info("ledger check %s: %s", run.pk, check.result)
    return check.result


def _summary(result: LedgerResult) -> JsonDict:
    return {
        "checked": result.checked,
        "opened": result.opened,
        "auto_fixed": result.auto_fixed,
        "closed": result.closed,
        "too_young": result.too_young,
        "payouts_reconciled": result.payouts_reconciled,
        "kinds": result.kinds,
    }
