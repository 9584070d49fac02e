"""Reads for the payout pages, the CSV and the finance API: from our mirrors, never the live API."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from orders.models import Order
from reconciliation.models import BalanceTransaction, Discrepancy, Payout

PAYOUT_TYPE = "payout"
# Stripe's reporting categories (docs.stripe.com/reports/reporting-categories). The summary puts
# every line in one bucket, so charges + refunds + disputes + fees + adjustments == net.
CHARGE_CATEGORIES = ("charge", "charge_failure")
REFUND_CATEGORIES = ("refund", "refund_failure")
DISPUTE_CATEGORIES = ("dispute", "dispute_reversal")
FEE_CATEGORIES = ("fee",)
SUMMARY_KEYS = ("charges", "refunds", "disputes", "fees", "adjustments", "net")

CSV_HEADER = (
    "order",
    "source",
    "balance_transaction",
    "type",
    "reporting_category",
    "amount",
    "fee",
    "net",
    "currency",
    "created",
    "available_on",
)


def payout_list() -> QuerySet[Payout]:
    """Every payout, newest first (Stripe's `created`)."""
    return Payout.objects.order_by("-stripe_created", "-pk")


def payout_get(*, stripe_id: str) -> Payout | None:
    return Payout.objects.filter(stripe_id=stripe_id).first()


def payout_lines(*, payout: Payout) -> QuerySet[BalanceTransaction]:
    """The balance transactions paid out in `payout`, oldest first, with their order's number."""
    return (
        BalanceTransaction.objects.filter(payout=payout)
        .select_related("order")
        .order_by("stripe_created", "pk")
    )


def _total(condition: Q, field: str = "amount") -> Coalesce:
    return Coalesce(Sum(field, filter=condition), 0)


def payout_summary(*, payout: Payout) -> dict[str, int]:
    """The payout's lines other than its own `payout` one, in one query: gross charges, refunds,
    disputes, fees (negative: every line's fee plus separately billed Stripe fees), other
    adjustments, and their net, which equals the payout amount when it is reconciled."""
    components = ~Q(type=PAYOUT_TYPE)
    known = CHARGE_CATEGORIES + REFUND_CATEGORIES + DISPUTE_CATEGORIES + FEE_CATEGORIES
    totals = BalanceTransaction.objects.filter(payout=payout).aggregate(
        charges=_total(components & Q(reporting_category__in=CHARGE_CATEGORIES)),
        refunds=_total(components & Q(reporting_category__in=REFUND_CATEGORIES)),
        disputes=_total(components & Q(reporting_category__in=DISPUTE_CATEGORIES)),
        billed_fees=_total(components & Q(reporting_category__in=FEE_CATEGORIES)),
        line_fees=_total(components, "fee"),
        adjustments=_total(components & ~Q(reporting_category__in=known)),
        net=_total(components, "net"),
    )
    return {
        "charges": int(totals["charges"]),
        "refunds": int(totals["refunds"]),
        "disputes": int(totals["disputes"]),
        "fees": int(totals["billed_fees"]) - int(totals["line_fees"]),
        "adjustments": int(totals["adjustments"]),
        "net": int(totals["net"]),
    }


def _iso(value: object) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""  # type: ignore[attr-defined]


def payout_lines_csv_rows(*, payout: Payout) -> Iterator[list[str]]:
    """The CSV for the accounting tool: a header row, then one row per line, streamed."""
    yield list(CSV_HEADER)
    for line in payout_lines(payout=payout).iterator(chunk_size=2000):
        yield [
            line.order.number if line.order else "",
            line.source_id,
            line.stripe_id,
            line.type,
            line.reporting_category,
            str(line.amount),
            str(line.fee),
            str(line.net),
            line.currency,
            _iso(line.stripe_created),
            _iso(line.available_on),
        ]


def discrepancy_list(*, status: str | None = None) -> QuerySet[Discrepancy]:
    """Discrepancies, newest first, optionally of one status."""
    queryset = Discrepancy.objects.select_related("order").order_by("-created_at", "-pk")
    return queryset.filter(status=status) if status else queryset


def order_balance_transactions(*, order: Order) -> QuerySet[BalanceTransaction]:
    """The balance transactions of an order's money (its charge, refunds, dispute withdrawals and
    reinstatements), oldest first, each with the payout it went out in (none until it is paid
    out and reconciled)."""
    return (
        BalanceTransaction.objects.filter(order=order)
        .select_related("payout")
        .order_by("stripe_created", "pk")
    )
