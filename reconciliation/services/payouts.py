"""The Payout and BalanceTransaction mirrors, and a payout's reconciliation.

Lock order: the payout row, then balance transaction rows (bulk upserts), then a discrepancy.
A payout is reconciled inside one transaction that holds its row lock, so two workers on one
payout give one result: the second waits, then finds it reconciled and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.celery import task_send
from config.money import format_money
from core.stripe_objects import id_of, time_of
from disputes.models import Dispute
from orders.models import Order, order_pk_from_number
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send_on_commit
from payments.models import Charge, Refund
from payments.services.staff import staff_action_record
from reconciliation.models import (
    PAYOUT_STATUS_RANK,
    RECONCILIATION_STATUS_RANK,
    BalanceTransaction,
    Discrepancy,
    Payout,
)
from reconciliation.services.discrepancies import discrepancy_close, discrepancy_open

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

# Rows per bulk upsert: one INSERT … ON CONFLICT per page keeps memory flat at 100,000 lines.
UPSERT_BATCH = 500
RECONCILE_TASK = "reconciliation.reconcile_payout"
PAYOUT_TYPE = "payout"
NOTE_ALREADY_RECONCILED = "already reconciled"
NOTE_NOT_PAID = "not paid yet"
NOTE_MANUAL = "manual payouts are not listed by Stripe per payout; reconcile them by hand"

# The object kind of a source we were given as a bare id (expand failed or was not asked for).
SOURCE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("pyr_", "refund"),
    ("pdp_", "dispute"),
    ("ch_", "charge"),
    ("py_", "charge"),
    ("re_", "refund"),
    ("dp_", "dispute"),
    ("du_", "dispute"),
    ("po_", "payout"),
)


# ---------------------------------------------------------------------------- payouts


@dataclass(frozen=True)
class PayoutSyncResult:
    payout: Payout
    created: bool
    changed: bool

    @property
    def ready_to_reconcile(self) -> bool:
        """Paid, automatic, and Stripe can list all of its transactions (or does not say)."""
        payout = self.payout
        return (
            payout.status == Payout.Status.PAID
            and payout.automatic
            and not payout.reconciled
            and payout.reconciliation_status in ("", "completed")
        )


def _payout_fields(obj: JsonDict) -> JsonDict:
    trace = obj.get("trace_id") or {}
    return {
        "livemode": bool(obj.get("livemode")),
        "stripe_created": time_of(obj.get("created")),
        "amount": int(obj.get("amount") or 0),
        "currency": str(obj.get("currency") or "").lower(),  # pragma: no mutate: the constraint refuses both
        "status": str(obj.get("status") or Payout.Status.PENDING),
        "arrival_date": time_of(obj.get("arrival_date")),
        "automatic": bool(obj.get("automatic", True)),
        "method": str(obj.get("method") or "")[:16],
        "type": str(obj.get("type") or "")[:32],
        "description": str(obj.get("description") or "")[:255],
        "trace_id": str(trace.get("value") or "")[:255] if isinstance(trace, dict) else "",
        "trace_id_status": str(trace.get("status") or "")[:32] if isinstance(trace, dict) else "",
        "failure_code": str(obj.get("failure_code") or "")[:64],
        "balance_transaction_id": id_of(obj.get("balance_transaction")),
        "failure_balance_transaction_id": id_of(obj.get("failure_balance_transaction")),
        "reconciliation_status": str(obj.get("reconciliation_status") or ""),
    }


def payout_sync(*, obj: JsonDict, source: str, seen_at: int | None = None) -> PayoutSyncResult:
    """Upsert a Payout snapshot by `stripe_id`, forward only (invariant 5): a lower status rank
    changes nothing, and within one rank the snapshot with the newer Stripe time wins (`seen_at`
    None means "just fetched from Stripe"). A trace id once known is never blanked, and Stripe's
    reconciliation status never goes back to `in_progress`. The only writer of Payout."""
    fields = _payout_fields(obj)
    at = seen_at if seen_at is not None else int(timezone.now().timestamp())
    with transaction.atomic():
        payout, created = Payout.objects.select_for_update().get_or_create(
            stripe_id=str(obj["id"]), defaults={**fields, "status_at": at, "synced_at": timezone.now()}
        )
        if created:
            logger.info("payout %s synced from %s: %s", payout.stripe_id, source, payout.status)
            return PayoutSyncResult(payout=payout, created=True, changed=True)
        new_rank = PAYOUT_STATUS_RANK.get(fields["status"], -1)
        old_rank = PAYOUT_STATUS_RANK.get(payout.status, -1)
        if new_rank < old_rank or (new_rank == old_rank and at < payout.status_at):
            return PayoutSyncResult(payout=payout, created=False, changed=False)
        if not fields["trace_id"] and payout.trace_id:
            fields["trace_id"], fields["trace_id_status"] = payout.trace_id, payout.trace_id_status
        if RECONCILIATION_STATUS_RANK.get(
            fields["reconciliation_status"], 0
        ) < RECONCILIATION_STATUS_RANK.get(payout.reconciliation_status, 0):
            fields["reconciliation_status"] = payout.reconciliation_status
        changed = any(getattr(payout, name) != value for name, value in fields.items())
        for name, value in fields.items():
            setattr(payout, name, value)
        payout.status_at = max(at, payout.status_at)
        payout.synced_at = timezone.now()
        payout.save()
        if changed:
            logger.info("payout %s synced from %s: %s", payout.stripe_id, source, payout.status)
        return PayoutSyncResult(payout=payout, created=False, changed=changed)


def payout_resync(*, payout_id: str, actor: Any = None) -> PayoutSyncResult:
    """Fetch a payout from Stripe and apply it through `payout_sync` (staff's re-sync); a paid
    payout not reconciled yet is queued for reconciliation. Audited."""

    result = payout_sync(
        obj=stripe_gateway.payout_retrieve(payout_id=payout_id), source=f"resync:{payout_id}"
    )
    if result.ready_to_reconcile:
        payout_reconcile_on_commit(payout_id=payout_id)
    staff_action_record(actor=actor, action="resync", target=payout_id, outcome=result.payout.status)
    return result


def payout_reconcile_on_commit(*, payout_id: str) -> None:
    """Queue the reconciliation task once the current transaction commits."""
    transaction.on_commit(lambda: task_send(name=RECONCILE_TASK, args=[payout_id]))


# ---------------------------------------------------------------------------- linking


def _source_kind(source: Any) -> str:
    if isinstance(source, dict) and source.get("object"):
        return str(source["object"])
    source_id = id_of(source)
    return next((kind for prefix, kind in SOURCE_PREFIXES if source_id.startswith(prefix)), "")


@dataclass
class _Refs:
    """What a page of balance transactions points at, gathered so one query per table links
    the whole page."""

    charges: set[str]
    refunds: set[str]
    disputes: set[str]
    payment_intents: set[str]
    order_pks: set[int]


def _source_references(source: Any, kind: str) -> tuple[str, str, int | None]:
    """(charge id, payment intent id, order pk from metadata) named by an expanded source."""
    if not isinstance(source, dict):
        return (id_of(source) if kind == "charge" else ""), "", None
    metadata = source.get("metadata") or {}
    reference = metadata.get("order_id") or metadata.get("order_number")
    named = str(reference) if reference else ""  # pragma: no mutate: "None" names no order either
    order_pk = order_pk_from_number(named)
    charge_id = id_of(source.get("id")) if kind == "charge" else id_of(source.get("charge"))
    return charge_id, id_of(source.get("payment_intent")), order_pk


class _PageLinker:
    """Links a page of Stripe balance transactions to our Charge, Refund, Dispute and Order rows.

    A charge source → Charge by stripe_id → its order; a refund → Refund → its order; a dispute
    → Dispute → the charge's order. When we hold no mirror (yet), the source's charge,
    payment_intent or metadata.order_id may still name the order."""

    def __init__(self, page: list[JsonDict]) -> None:
        refs = _Refs(set(), set(), set(), set(), set())
        for txn in page:
            source = txn.get("source")
            kind = _source_kind(source)
            source_id = id_of(source)
            charge_id, payment_intent_id, order_pk = _source_references(source, kind)
            if kind == "refund":
                refs.refunds.add(source_id)
            elif kind == "dispute":
                refs.disputes.add(source_id)
            if charge_id:
                refs.charges.add(charge_id)
            if payment_intent_id:
                refs.payment_intents.add(payment_intent_id)
            if order_pk is not None:
                refs.order_pks.add(order_pk)
        self.refunds = {r.stripe_id: r for r in Refund.objects.filter(stripe_id__in=refs.refunds)}
        self.disputes = {d.stripe_id: d for d in Dispute.objects.filter(stripe_id__in=refs.disputes)}
        for refund in self.refunds.values():
            if refund.charge_id:
                refs.charges.add(refund.charge_id)
            if refund.payment_intent_id:
                refs.payment_intents.add(refund.payment_intent_id)
        for dispute in self.disputes.values():
            if dispute.charge_id:
                refs.charges.add(dispute.charge_id)
            if dispute.payment_intent_id:
                refs.payment_intents.add(dispute.payment_intent_id)
        self.charges = {c.stripe_id: c for c in Charge.objects.filter(stripe_id__in=refs.charges)}
        orders = Order.objects.filter(pk__in=refs.order_pks).only("pk")
        self.orders_by_pk = {o.pk: o.pk for o in orders}
        self.orders_by_payment_intent: dict[str, int] = {}
        self.orders_by_charge: dict[str, int] = {}
        if refs.payment_intents:
            for pk, pi in Order.objects.filter(payment_intent_id__in=refs.payment_intents).values_list(
                "pk", "payment_intent_id"
            ):
                self.orders_by_payment_intent[str(pi)] = pk
        if refs.charges:
            for pk, charge_id in Order.objects.filter(charge_id__in=refs.charges).values_list(
                "pk", "charge_id"
            ):
                self.orders_by_charge[charge_id] = pk

    def _order_for_charge(self, charge_id: str, payment_intent_id: str) -> int | None:
        charge = self.charges.get(charge_id)
        if charge is not None and charge.order_id is not None:
            return charge.order_id
        return self.orders_by_charge.get(charge_id) or self.orders_by_payment_intent.get(payment_intent_id)

    def row(self, txn: JsonDict, *, payout: Payout) -> BalanceTransaction:
        source = txn.get("source")
        kind = _source_kind(source)
        source_id = id_of(source)
        charge_id, payment_intent_id, metadata_order = _source_references(source, kind)
        refund = self.refunds.get(source_id)  # ids of one kind share no prefix with another's
        dispute = self.disputes.get(source_id)
        if refund is not None:
            charge_id = charge_id or refund.charge_id
            payment_intent_id = payment_intent_id or refund.payment_intent_id
        if dispute is not None:
            charge_id = charge_id or dispute.charge_id or ""  # pragma: no mutate: "XXXX" names no charge
            disputed = dispute.payment_intent_id or ""  # pragma: no mutate: "XXXX" names no payment
            payment_intent_id = payment_intent_id or disputed
        order_pk: int | None = None
        if refund is not None and refund.order_id is not None:
            order_pk = refund.order_id
        if order_pk is None and metadata_order is not None:
            order_pk = self.orders_by_pk.get(metadata_order)
        if order_pk is None and (charge_id or payment_intent_id):
            order_pk = self._order_for_charge(charge_id, payment_intent_id)
        charge = self.charges.get(charge_id)
        rate = txn.get("exchange_rate")
        return BalanceTransaction(
            stripe_id=str(txn["id"]),
            livemode=payout.livemode,
            stripe_created=time_of(txn.get("created")),
            synced_at=timezone.now(),
            type=str(txn.get("type") or "")[:64],
            reporting_category=str(txn.get("reporting_category") or "")[:64],
            status=str(txn.get("status") or "")[:16],
            amount=int(txn["amount"]),
            fee=int(txn.get("fee") or 0),
            net=int(txn["net"]),
            currency=str(txn.get("currency") or payout.currency).lower(),
            fee_details=txn.get("fee_details") or [],
            available_on=time_of(txn.get("available_on")),
            # str() first: the JSON number becomes the exact decimal Stripe wrote, not a binary float.
            exchange_rate=Decimal(str(rate)) if rate is not None else None,
            description=str(txn.get("description") or "")[:255],
            source_id=source_id[:255],
            source_kind=kind[:64],
            payout=payout,
            charge=charge,
            refund=refund,
            dispute=dispute,
            order_id=order_pk,
        )


UPDATE_FIELDS = [
    "livemode",
    "stripe_created",
    "synced_at",
    "updated_at",
    "type",
    "reporting_category",
    "status",
    "amount",
    "fee",
    "net",
    "currency",
    "fee_details",
    "available_on",
    "exchange_rate",
    "description",
    "source_id",
    "source_kind",
    "payout",
    "charge",
    "refund",
    "dispute",
    "order",
]


def balance_transactions_upsert(
    *, transactions: Iterable[JsonDict], payout: Payout
) -> Iterator[BalanceTransaction]:
    """Link and upsert balance transactions paid out in `payout`, a page at a time
    (`INSERT … ON CONFLICT (stripe_id) DO UPDATE`); yields each row written, so a caller can
    total them without holding them all."""
    it = iter(transactions)
    while page := list(islice(it, UPSERT_BATCH)):  # pragma: no mutate: one page or many, the same rows
        linker = _PageLinker(page)
        rows = [linker.row(txn, payout=payout) for txn in page]
        BalanceTransaction.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["stripe_id"], update_fields=UPDATE_FIELDS
        )
        yield from rows


# ---------------------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class PayoutReconcileResult:
    payout_id: str
    reconciled: bool
    unexplained: int | None
    lines: int
    note: str = ""


def _result(payout: Payout, note: str = "") -> PayoutReconcileResult:
    return PayoutReconcileResult(
        payout_id=payout.stripe_id,
        reconciled=payout.reconciled,
        unexplained=payout.unexplained,
        lines=payout.lines_count,
        note=note,
    )


RECONCILED_FIELDS = ["unexplained", "reconciled", "lines_count", "reconciled_at", "updated_at"]


def payout_reconcile(*, payout_id: str) -> PayoutReconcileResult:
    """List every balance transaction of a paid automatic payout (all pages, sources expanded),
    link each one to its charge, refund or dispute and order, and check that the net of the
    non-payout ones equals the payout amount. Stores `reconciled` and `unexplained`; a payout
    that does not add up opens one `payout_residual` discrepancy and alerts staff (identifiers
    only). Idempotent: a reconciled payout is left as it is; two workers at once give one result
    (the payout row is locked for the whole run)."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(stripe_id=payout_id)
        if payout.reconciled:
            return _result(payout, NOTE_ALREADY_RECONCILED)
        if payout.status != Payout.Status.PAID:
            return _result(payout, NOTE_NOT_PAID)
        if not payout.automatic:
            return _result(payout, NOTE_MANUAL)
        total_net = 0
        lines = 0
        listed = stripe_gateway.balance_transaction_list(payout_id=payout.stripe_id)
        for row in balance_transactions_upsert(transactions=listed, payout=payout):
            lines += 1
            if row.type != PAYOUT_TYPE:
                total_net += row.net
        unexplained = payout.amount - total_net
        payout.unexplained = unexplained
        payout.reconciled = unexplained == 0
        payout.lines_count = lines
        payout.reconciled_at = timezone.now()
        payout.save(update_fields=RECONCILED_FIELDS)  # pragma: no mutate: a locked row
        if payout.reconciled:
            discrepancy_close(
                kind=Discrepancy.Kind.PAYOUT_RESIDUAL,
                object_id=payout.stripe_id,
                note="the payout adds up now",
            )
        elif payout.reconciliation_status == "completed" or not payout.reconciliation_status:
            _payout_residual_open(payout, unexplained=unexplained)
        return _result(payout)


def _payout_residual_open(payout: Payout, *, unexplained: int) -> None:
    detail = (
        f"{payout.stripe_id}: amount {payout.amount} {payout.currency}, its transactions net "
        f"{payout.amount - unexplained}, unexplained {unexplained}"
    )
    discrepancy, opened = discrepancy_open(
        kind=Discrepancy.Kind.PAYOUT_RESIDUAL, object_id=payout.stripe_id, detail=detail
    )
    if opened:
        alert_send_on_commit(
            kind=AlertKind.PAYOUT_UNEXPLAINED,
            message=(
                f"Payout {payout.stripe_id} does not add up: "
                f"{format_money(unexplained, payout.currency)} unexplained"
            ),
            ids={"payout": payout.stripe_id, "discrepancy": discrepancy.pk, "unexplained": unexplained},
        )


def payouts_to_reconcile() -> Iterator[str]:
    """Stripe ids of every paid automatic payout not reconciled yet, oldest first."""
    return (
        Payout.objects.filter(status=Payout.Status.PAID, automatic=True, reconciled=False)
        .order_by("stripe_created", "pk")
        .values_list("stripe_id", flat=True)
        .iterator()
    )
