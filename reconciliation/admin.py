"""Admin for payouts, their balance transactions and the ledger's discrepancies.

Mirrors are read-only. A payout's page shows what the bank deposit is made of (charges, refunds,
disputes, fees, adjustments, net), the deposit's arrival date and trace id to match the bank
statement, and its lines, each linked to its order, with a CSV download. Actions call services:
re-run a payout's reconciliation, resolve a discrepancy with a note (Finance only, audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from config.money import format_money
from core.roles import user_is_finance
from core.security import has_recent_auth, reauth_redirect
from payments import stripe_gateway
from payments.services.staff import staff_action_record
from reconciliation.apis import payout_csv_response
from reconciliation.models import BalanceTransaction, Discrepancy, Payout
from reconciliation.selectors import payout_lines, payout_summary
from reconciliation.services.discrepancies import discrepancy_resolve
from reconciliation.services.payouts import payout_reconcile, payout_resync

LINES_PER_PAGE = 200


def _dashboard_link(object_id: str, livemode: bool) -> str:
    if not object_id:
        return "-"
    url = stripe_gateway.dashboard_url(object_id=object_id, livemode=livemode)
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, object_id)


def _order_link(order: Any) -> str:
    if order is None:
        return "-"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.number
    )


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Payout)
class PayoutAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "stripe_id",
        "status",
        "money",
        "arrival_date",
        "trace_id",
        "reconciled",
        "unexplained_money",
    )
    list_filter = ("status", "reconciled", "automatic", "livemode")
    search_fields = ("=stripe_id", "=trace_id", "=balance_transaction_id")
    search_help_text = "A payout id (po_…), the bank's trace id, or the payout's own txn_…"
    date_hierarchy = "arrival_date"
    change_form_template = "admin/reconciliation/payout/change_form.html"
    actions = ("reconcile", "resync")
    fieldsets = (
        (None, {"fields": ("stripe_link", "status", "money", "arrival_date", "trace_id", "trace_id_status")}),
        ("Reconciliation", {"fields": ("reconciled", "unexplained_money", "lines_count", "reconciled_at")}),
        (
            "Stripe",
            {
                "fields": (
                    "automatic",
                    "method",
                    "type",
                    "description",
                    "failure_code",
                    "balance_transaction_id",
                    "reconciliation_status",
                    "stripe_created",
                    "synced_at",
                )
            },
        ),
    )
    readonly_fields = (
        "stripe_link",
        "status",
        "money",
        "arrival_date",
        "trace_id",
        "trace_id_status",
        "reconciled",
        "unexplained_money",
        "lines_count",
        "reconciled_at",
        "automatic",
        "method",
        "type",
        "description",
        "failure_code",
        "balance_transaction_id",
        "reconciliation_status",
        "stripe_created",
        "synced_at",
    )

    @admin.display(description="Amount", ordering="amount")
    def money(self, payout: Payout) -> str:
        return format_money(payout.amount, payout.currency)

    @admin.display(description="Unexplained", ordering="unexplained")
    def unexplained_money(self, payout: Payout) -> str:
        return "-" if payout.unexplained is None else format_money(payout.unexplained, payout.currency)

    @admin.display(description="Payout")
    def stripe_link(self, payout: Payout) -> str:
        return _dashboard_link(payout.stripe_id, payout.livemode)

    def get_urls(self) -> list[Any]:
        csv_view = self.admin_site.admin_view(self.lines_csv)
        return [
            path("<path:object_id>/lines.csv", csv_view, name="reconciliation_payout_lines_csv"),
            *super().get_urls(),
        ]

    def lines_csv(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payout = self.get_object(request, object_id)
        if payout is None or not self.has_view_permission(request, payout):
            raise Http404("No such payout")
        return payout_csv_response(payout=payout)  # type: ignore[return-value]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        payout = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if payout is not None:
            summary = payout_summary(payout=payout)
            page = Paginator(payout_lines(payout=payout), LINES_PER_PAGE).get_page(
                request.GET.get("lines_page")
            )
            context.update(
                summary=[
                    (label, format_money(summary[key], payout.currency))
                    for key, label in (
                        ("charges", "Charges"),
                        ("refunds", "Refunds"),
                        ("disputes", "Disputes"),
                        ("fees", "Fees"),
                        ("adjustments", "Adjustments"),
                        ("net", "Net"),
                    )
                ],
                net_equals_amount=summary["net"] == payout.amount,
                amount_display=format_money(payout.amount, payout.currency),
                lines_page=page,
                lines=[
                    {
                        "id": line.stripe_id,
                        "type": line.type,
                        "category": line.reporting_category,
                        "source": line.source_id,
                        "order": _order_link(line.order),
                        "amount": format_money(line.amount, line.currency),
                        "fee": format_money(line.fee, line.currency),
                        "net": format_money(line.net, line.currency),
                        "created": line.stripe_created,
                    }
                    for line in page.object_list
                ],
                csv_url=reverse("admin:reconciliation_payout_lines_csv", args=[payout.pk]),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    @admin.action(description="Reconcile the selected payouts again")
    def reconcile(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        for payout in queryset:
            try:
                result = payout_reconcile(payout_id=payout.stripe_id)
            except stripe_gateway.StripeGatewayError as error:
                self.message_user(request, f"{payout.stripe_id}: {error}", messages.ERROR)
                continue
            outcome = result.note or ("adds up" if result.reconciled else f"{result.unexplained} unexplained")
            staff_action_record(
                actor=request.user, action="payout_reconcile", target=payout.stripe_id, outcome=outcome
            )
            level = messages.SUCCESS if result.reconciled else messages.WARNING
            self.message_user(request, f"{payout.stripe_id}: {outcome}", level)

    @admin.action(description="Re-sync the selected payouts from Stripe (fetch and apply)")
    def resync(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        for payout in queryset:
            try:
                result = payout_resync(payout_id=payout.stripe_id, actor=request.user)
            except stripe_gateway.StripeGatewayError as error:
                self.message_user(request, f"{payout.stripe_id}: {error}", messages.ERROR)
                continue
            self.message_user(
                request, f"{payout.stripe_id} re-synced: {result.payout.status}", messages.SUCCESS
            )


@admin.register(BalanceTransaction)
class BalanceTransactionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "stripe_id",
        "type",
        "reporting_category",
        "net_money",
        "source_id",
        "order_link",
        "payout",
    )
    list_filter = ("type", "reporting_category")
    search_fields = ("=stripe_id", "=source_id", "=payout__stripe_id")
    search_help_text = "A txn_…, its source (ch_…, re_…, dp_…) or the payout (po_…)."
    list_select_related = ("order", "payout")
    readonly_fields = [f.name for f in BalanceTransaction._meta.fields]

    @admin.display(description="Net", ordering="net")
    def net_money(self, line: BalanceTransaction) -> str:
        return format_money(line.net, line.currency)

    @admin.display(description="Order")
    def order_link(self, line: BalanceTransaction) -> str:
        return _order_link(line.order)


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    """Finance staff resolve an open case by writing a note and saving (the service records who
    and when, and an audit row); everything else is read-only."""

    list_display = ("pk", "kind", "object_id", "order_link", "status", "created_at", "resolved_by")
    list_filter = ("status", "kind")
    search_fields = ("=object_id",)
    search_help_text = "The Stripe id it is about (ch_…, pi_…, re_…, dp_…, po_…)."
    list_select_related = ("order", "resolved_by")
    fields = (
        "kind",
        "object_id",
        "order_link",
        "status",
        "detail",
        "created_at",
        "resolved_by",
        "resolved_at",
        "note",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = user_is_finance(request.user) and super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.status == Discrepancy.Status.OPEN)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = [name for name in self.fields if name != "note"]
        if not self.has_change_permission(request, obj):
            readonly.append("note")
        return readonly

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "note" in form.base_fields:
            form.base_fields["note"].required = True
            form.base_fields["note"].help_text = "What was done about it. Saving resolves the case."
        return form

    @admin.display(description="Order")
    def order_link(self, discrepancy: Discrepancy) -> str:
        return _order_link(discrepancy.order)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> Any:
        # Resolving a case is a money action: a password or a fresh code in the last minutes.
        if request.method == "POST" and not has_recent_auth(request):
            return reauth_redirect(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Discrepancy, form: Any, change: bool) -> None:
        try:
            discrepancy_resolve(discrepancy=obj, user=request.user, note=obj.note)
        except (PermissionDenied, ValidationError) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
