"""Dispute admin: open disputes first by deadline, the mirror read-only, the liability shift
explained, the evidence draft (Finance only: read, edit its text fields, attach a file) and the
actions "Submit evidence" and "Accept the dispute", each behind a confirmation page. Support
staff see the disputes and can re-sync them; they cannot see the evidence or act. Every action
calls a service, which writes the audit row."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from config.money import format_money
from core.roles import user_is_finance, user_is_support
from core.security import require_recent_auth
from disputes.evidence import FILE_FIELDS, TEXT_FIELDS
from disputes.models import OPEN_STATUSES, DeadlineWarning, Dispute, EarlyFraudWarning
from disputes.selectors import dispute_draft_latest, dispute_evidence_staged, dispute_liability
from disputes.services import (
    DisputeActionRefused,
    EvidenceUpload,
    dispute_accept,
    dispute_evidence_revise,
    dispute_evidence_submit,
    dispute_refund_inquiry,
    dispute_resync,
)
from payments import stripe_gateway
from payments.stripe_gateway import StripeGatewayError

CONFIRM_TEMPLATE = "admin/disputes/dispute/confirm_action.html"
EVIDENCE_TEMPLATE = "admin/disputes/dispute/evidence.html"


def _link(object_id: str | None, livemode: bool) -> str:
    if not object_id:
        return "-"
    url = stripe_gateway.dashboard_url(object_id=object_id, livemode=livemode)
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, object_id)


class RoleAccessMixin:
    """Admin access by role (core.roles), the same rule as the finance API: Support and Finance
    look; nobody adds, changes or deletes a mirror."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return user_is_support(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return user_is_support(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_finance_permission(self, request: HttpRequest) -> bool:
        return user_is_finance(request.user)

    def has_support_permission(self, request: HttpRequest) -> bool:
        return user_is_support(request.user)


class EvidenceForm(forms.Form):
    """The draft's text fields as Stripe names them, and one file to attach."""

    attach_to = forms.ChoiceField(
        choices=[("", "(no file)")] + [(name, name) for name in FILE_FIELDS], required=False
    )
    attachment = forms.FileField(required=False, help_text="PDF, JPEG or PNG.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, limit in TEXT_FIELDS.items():
            self.fields[name] = forms.CharField(
                required=False,
                strip=True,
                widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
                help_text=f"Up to {limit:,} characters.",
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("attachment") and not data.get("attach_to"):
            self.add_error("attach_to", "Choose which evidence field the file is.")
        return data


@admin.register(Dispute)
class DisputeAdmin(RoleAccessMixin, admin.ModelAdmin):
    list_display = (
        "stripe_id",
        "order_number",
        "status",
        "reason",
        "money",
        "due",
        "staged",
        "submitted_flag",
        "liability_flag",
    )
    list_filter = ("status", "reason", "case_type", "livemode")
    search_fields = ("=stripe_id", "=charge_id", "=payment_intent_id")
    search_help_text = "A dispute (du_…), charge (ch_…) or PaymentIntent (pi_…) id."
    actions = ("submit_evidence", "accept_dispute", "refund_inquiry", "resync")
    fieldsets = (
        (
            None,
            {"fields": ("stripe_id", "dispute_link", "order_link", "status", "reason", "money", "case_type")},
        ),
        (
            "Deadline",
            {
                "fields": (
                    "evidence_due_by",
                    "due",
                    "past_due",
                    "has_evidence",
                    "submission_count",
                    "warnings",
                )
            },
        ),
        ("3-D Secure", {"fields": ("liability_flag", "liability_explanation")}),
        ("Evidence", {"fields": ("evidence_summary",)}),
        (
            "Stripe",
            {
                "fields": (
                    "charge_link",
                    "payment_intent_link",
                    "network_reason_code",
                    "card_brand",
                    "is_charge_refundable",
                    "enhanced_eligibility_types",
                    "livemode",
                    "stripe_created",
                    "synced_at",
                )
            },
        ),
        (
            "Our actions",
            {
                "fields": (
                    "submit_claimed_at",
                    "submit_claimed_by",
                    "submitted_revision",
                    "submitted_at",
                    "accept_claimed_at",
                    "accept_claimed_by",
                    "refund_claimed_at",
                    "refund_id",
                    "closed_at",
                )
            },
        ),
    )
    readonly_fields = (
        "stripe_id",
        "dispute_link",
        "order_link",
        "status",
        "reason",
        "money",
        "case_type",
        "evidence_due_by",
        "due",
        "past_due",
        "has_evidence",
        "submission_count",
        "warnings",
        "liability_flag",
        "liability_explanation",
        "evidence_summary",
        "charge_link",
        "payment_intent_link",
        "network_reason_code",
        "card_brand",
        "is_charge_refundable",
        "enhanced_eligibility_types",
        "livemode",
        "stripe_created",
        "synced_at",
        "submit_claimed_at",
        "submit_claimed_by",
        "submitted_revision",
        "submitted_at",
        "accept_claimed_at",
        "accept_claimed_by",
        "refund_claimed_at",
        "refund_id",
        "closed_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dispute]:
        return super().get_queryset(request).select_related("order", "charge")

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # Open disputes first, the soonest deadline first; then the closed ones, newest first.
        open_first = Case(
            When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return [open_first.asc(), F("evidence_due_by").asc(nulls_last=True), "-stripe_created"]

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/evidence/",
                self.admin_site.admin_view(self.evidence_view),
                name="disputes_dispute_evidence",
            ),
            *super().get_urls(),
        ]

    # ------------------------------------------------------------------ columns

    @admin.display(description="Order", ordering="order")
    def order_number(self, dispute: Dispute) -> str:
        return dispute.order.number if dispute.order else "-"

    @admin.display(description="Order")
    def order_link(self, dispute: Dispute) -> str:
        if dispute.order is None:
            return "-"
        url = reverse("admin:orders_order_change", args=[dispute.order.pk])
        return format_html('<a href="{}">{}</a> · {}', url, dispute.order.number, dispute.order.status)

    @admin.display(description="Amount", ordering="amount")
    def money(self, dispute: Dispute) -> str:
        return format_money(dispute.amount, dispute.currency) if dispute.currency else str(dispute.amount)

    @admin.display(description="Due", ordering="evidence_due_by")
    def due(self, dispute: Dispute) -> str:
        if dispute.evidence_due_by is None:
            return "no response possible" if dispute.is_open else "-"
        if not dispute.needs_response or dispute.submitted:
            return dispute.evidence_due_by.strftime("%Y-%m-%d %H:%M UTC")
        hours = int((dispute.evidence_due_by - timezone.now()).total_seconds() // 3600)
        if hours < 0:
            return format_html(
                "<strong>OVERDUE</strong> since {}", dispute.evidence_due_by.strftime("%Y-%m-%d %H:%M")
            )
        return f"in {hours} h ({dispute.evidence_due_by:%Y-%m-%d %H:%M} UTC)"

    @admin.display(description="Evidence staged", boolean=True)
    def staged(self, dispute: Dispute) -> bool:
        return dispute_evidence_staged(dispute=dispute)

    @admin.display(description="Submitted", boolean=True)
    def submitted_flag(self, dispute: Dispute) -> bool:
        return dispute.submitted

    @admin.display(description="Liability shift", boolean=True)
    def liability_flag(self, dispute: Dispute) -> bool:
        return dispute_liability(dispute=dispute).applies

    @admin.display(description="Why")
    def liability_explanation(self, dispute: Dispute) -> str:
        return dispute_liability(dispute=dispute).explanation

    @admin.display(description="Deadline warnings sent")
    def warnings(self, dispute: Dispute) -> str:
        sent = DeadlineWarning.objects.filter(dispute=dispute).order_by("created_at")
        return ", ".join(f"{w.get_threshold_display()} ({w.created_at:%Y-%m-%d %H:%M})" for w in sent) or "-"

    @admin.display(description="In the Stripe Dashboard")
    def dispute_link(self, dispute: Dispute) -> str:
        return _link(dispute.stripe_id, dispute.livemode)

    @admin.display(description="Charge")
    def charge_link(self, dispute: Dispute) -> str:
        return _link(dispute.charge_id, dispute.livemode)

    @admin.display(description="PaymentIntent")
    def payment_intent_link(self, dispute: Dispute) -> str:
        return _link(dispute.payment_intent_id, dispute.livemode)

    @admin.display(description="Draft")
    def evidence_summary(self, dispute: Dispute) -> str:
        draft = dispute_draft_latest(dispute=dispute)
        if draft is None:
            return "No draft yet."
        state = (
            "staged on Stripe"
            if draft.staged_at
            else ("NOT SENT: " + draft.problem if draft.problem else "not staged yet")
        )
        url = reverse("admin:disputes_dispute_evidence", args=[dispute.pk])
        return format_html(
            'Revision {} · {} · <a href="{}">Read and edit the evidence (Finance)</a>',
            draft.revision,
            state,
            url,
        )

    # ------------------------------------------------------------------ evidence page

    def evidence_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The draft, as Stripe names its fields: Finance reads and edits it (a new revision,
        staged at once); nobody else sees it."""
        if not user_is_finance(request.user):
            raise PermissionDenied
        dispute = get_object_or_404(Dispute.objects.select_related("order", "charge"), pk=pk)
        draft = dispute_draft_latest(dispute=dispute)
        initial = dict(draft.fields) if draft else {}
        editable = dispute.needs_response and not dispute.submitted and dispute.submit_claimed_at is None
        form = EvidenceForm(request.POST or None, request.FILES or None, initial=initial)
        if request.method == "POST" and editable and form.is_valid():
            changes = {
                name: form.cleaned_data[name]
                for name in TEXT_FIELDS
                if (form.cleaned_data[name] or "") != (initial.get(name) or "")
            }
            attachment = form.cleaned_data.get("attachment")
            upload = (
                EvidenceUpload(
                    field=form.cleaned_data["attach_to"],
                    filename=attachment.name,
                    content=attachment.read(),
                    content_type=attachment.content_type or "application/octet-stream",
                )
                if attachment
                else None
            )
            if not changes and upload is None:
                self.message_user(request, "Nothing changed.", messages.INFO)
            else:
                try:
                    new = dispute_evidence_revise(
                        dispute=dispute, user=request.user, changes=changes, upload=upload
                    )
                except (DisputeActionRefused, StripeGatewayError) as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    state = "staged on Stripe" if new.staged_at else "saved, not staged yet"
                    self.message_user(request, f"Evidence revision {new.revision} {state}.", messages.SUCCESS)
                    return HttpResponseRedirect(request.path)
        files = {name: initial.get(name) for name in FILE_FIELDS if initial.get(name)}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Evidence for {dispute.stripe_id}",
            "dispute": dispute,
            "draft": draft,
            "form": form,
            "files": files,
            "editable": editable,
            "liability": dispute_liability(dispute=dispute),
            "opts": self.model._meta,
            "change_url": reverse("admin:disputes_dispute_change", args=[dispute.pk]),
        }
        return TemplateResponse(request, EVIDENCE_TEMPLATE, context)

    # ------------------------------------------------------------------ actions

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[Dispute],
        *,
        action: str,
        title: str,
        warning: str,
        with_text: bool,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "warning": warning,
            "action": action,
            "with_text": with_text,
            "rows": [
                {
                    "dispute": dispute,
                    "order": dispute.order.number if dispute.order else "-",
                    "money": self.money(dispute),
                    "due": self.due(dispute),
                    "liability": dispute_liability(dispute=dispute),
                    "draft": dispute_draft_latest(dispute=dispute),
                }
                for dispute in queryset
            ],
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, CONFIRM_TEMPLATE, context)

    @admin.action(description="Submit evidence (once, final)", permissions=["finance"])
    @require_recent_auth
    def submit_evidence(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> TemplateResponse | None:
        if request.POST.get("confirm") != "yes":
            return self._confirm(
                request,
                queryset,
                action="submit_evidence",
                title="Submit the evidence to Stripe?",
                warning="Stripe takes one submission per dispute: the evidence cannot be changed afterwards.",
                with_text=True,
            )
        extra = (request.POST.get("extra_text") or "").strip() or None
        for dispute in queryset:
            try:
                result = dispute_evidence_submit(dispute=dispute, user=request.user, extra_text=extra)
            except (DisputeActionRefused, StripeGatewayError) as error:
                self.message_user(request, f"Dispute {dispute.stripe_id}: {error}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"Dispute {dispute.stripe_id}: evidence submitted, now {result.status} "
                f"(submissions: {result.submission_count}).",
                messages.SUCCESS,
            )
        return None

    @admin.action(description="Accept the dispute (lose it, irreversible)", permissions=["finance"])
    @require_recent_auth
    def accept_dispute(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> TemplateResponse | None:
        if request.POST.get("confirm") != "yes":
            return self._confirm(
                request,
                queryset,
                action="accept_dispute",
                title="Accept these disputes as lost?",
                warning="Accepting closes the dispute as lost on Stripe: the disputed amount is not "
                "returned.",
                with_text=False,
            )
        for dispute in queryset:
            try:
                result = dispute_accept(dispute=dispute, user=request.user)
            except (DisputeActionRefused, StripeGatewayError) as error:
                self.message_user(request, f"Dispute {dispute.stripe_id}: {error}", messages.ERROR)
                continue
            self.message_user(
                request, f"Dispute {dispute.stripe_id}: accepted, now {result.status}.", messages.SUCCESS
            )
        return None

    @admin.action(description="Refund instead (inquiries only)", permissions=["finance"])
    @require_recent_auth
    def refund_inquiry(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> TemplateResponse | None:
        if request.POST.get("confirm") != "yes":
            return self._confirm(
                request,
                queryset,
                action="refund_inquiry",
                title="Refund these inquiries in full?",
                warning="The rest of each charge is refunded to the customer, which closes the inquiry.",
                with_text=False,
            )
        for dispute in queryset:
            try:
                result = dispute_refund_inquiry(dispute=dispute, user=request.user)
            except (DisputeActionRefused, StripeGatewayError) as error:
                self.message_user(request, f"Dispute {dispute.stripe_id}: {error}", messages.ERROR)
                continue
            self.message_user(
                request, f"Dispute {dispute.stripe_id}: refunded ({result.refund_id}).", messages.SUCCESS
            )
        return None

    @admin.action(description="Re-sync from Stripe (fetch and apply)", permissions=["support"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        for dispute in queryset:
            try:
                result = dispute_resync(dispute=dispute, actor=request.user)
            except StripeGatewayError as error:
                self.message_user(request, f"Dispute {dispute.stripe_id}: {error}", messages.ERROR)
                continue
            self.message_user(
                request, f"Dispute {dispute.stripe_id} re-synced: {result.dispute.status}", messages.SUCCESS
            )


@admin.register(EarlyFraudWarning)
class EarlyFraudWarningAdmin(RoleAccessMixin, admin.ModelAdmin):
    list_display = ("stripe_id", "order", "charge_id", "fraud_type", "actionable", "stripe_created")
    list_filter = ("fraud_type", "actionable")
    search_fields = ("=stripe_id", "=charge_id", "=payment_intent_id")
    readonly_fields = [f.name for f in EarlyFraudWarning._meta.fields]
