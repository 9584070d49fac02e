"""The finance API's disputes endpoints (finance-api.md, "Disputes"): thin views over the
selectors and the staff-action services. Support reads the list; evidence and writes are
Finance only."""

from __future__ import annotations

from typing import Any

from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.idempotency import idempotent_write
from core.models import ApiIdempotencyKey
from core.permissions import IsFinance, IsSupport
from disputes.evidence import ALL_FIELDS
from disputes.models import Dispute
from disputes.selectors import (
    dispute_draft_latest,
    dispute_evidence_staged,
    dispute_get_by_stripe_id,
    dispute_liability,
    dispute_list,
)
from disputes.services import DisputeActionRefused, dispute_accept, dispute_evidence_submit
from payments.stripe_gateway import RateLimited, StripeUnavailable

PAGE_SIZE = 100
ERROR_NOT_FOUND = "No dispute with the id {dispute} is mirrored here."
ERROR_BAD_STATUS = "status must be one of Stripe's dispute statuses: {statuses}."
ERROR_BAD_PAGE = "page must be a page number from the list's next link."


def _not_found(dispute_id: str) -> Response:
    return Response({"error": ERROR_NOT_FOUND.format(dispute=dispute_id)}, status=status.HTTP_404_NOT_FOUND)


class DisputeResultSerializer(serializers.Serializer):
    """What the submit and accept endpoints answer."""

    id = serializers.CharField(source="stripe_id")
    status = serializers.CharField()
    submitted = serializers.BooleanField()
    submission_count = serializers.IntegerField()


def _result(dispute: Dispute) -> dict[str, Any]:
    return dict(DisputeResultSerializer(dispute).data)


class DisputeListApi(APIView):
    """`GET /api/finance/disputes/?status=<Stripe's dispute status>`: open disputes first, by
    deadline."""

    permission_classes = [IsSupport]

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField(source="stripe_id")
        charge = serializers.CharField(source="charge_id")
        order = serializers.CharField(allow_null=True)
        status = serializers.CharField()
        reason = serializers.CharField()
        amount = serializers.IntegerField()
        currency = serializers.CharField()
        due_by = serializers.DateTimeField(source="evidence_due_by", allow_null=True)
        evidence_staged = serializers.BooleanField()
        submitted = serializers.BooleanField()
        liability_shift = serializers.BooleanField()
        liability_explanation = serializers.CharField()
        case_type = serializers.CharField()
        submission_count = serializers.IntegerField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in Dispute.Status.values:
            statuses = ", ".join(Dispute.Status.values)
            return Response(
                {"error": ERROR_BAD_STATUS.format(statuses=statuses)}, status=status.HTTP_400_BAD_REQUEST
            )
        paginator = Paginator(dispute_list(status=wanted), PAGE_SIZE)
        try:
            page = paginator.page(request.query_params.get("page") or 1)
        except (EmptyPage, ValueError, TypeError):
            return Response({"error": ERROR_BAD_PAGE}, status=status.HTTP_400_BAD_REQUEST)
        rows = []
        for dispute in page.object_list:
            liability = dispute_liability(dispute=dispute)
            rows.append(
                {
                    "stripe_id": dispute.stripe_id,
                    "charge_id": dispute.charge_id,
                    "order": dispute.order.number if dispute.order else None,
                    "status": dispute.status,
                    "reason": dispute.reason,
                    "amount": dispute.amount,
                    "currency": dispute.currency,
                    "evidence_due_by": dispute.evidence_due_by,
                    "evidence_staged": dispute_evidence_staged(dispute=dispute),
                    "submitted": dispute.submitted,
                    "liability_shift": liability.applies,
                    "liability_explanation": liability.explanation,
                    "case_type": dispute.case_type,
                    "submission_count": dispute.submission_count,
                }
            )
        next_url = None
        if page.has_next():
            query = request.query_params.copy()
            query["page"] = str(page.next_page_number())
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response({"results": self.OutputSerializer(rows, many=True).data, "next": next_url})


class DisputeEvidenceApi(APIView):
    """`GET /api/finance/disputes/<du_id>/evidence/` (Finance): the evidence as staged, keyed as
    Stripe names the fields, with its revision."""

    permission_classes = [IsFinance]

    @extend_schema(responses=dict)
    def get(self, request: Request, dispute_id: str) -> Response:
        dispute = dispute_get_by_stripe_id(stripe_id=dispute_id)
        if dispute is None:
            return _not_found(dispute_id)
        draft = dispute_draft_latest(dispute=dispute)
        fields = draft.fields if draft else {}
        data: dict[str, Any] = {name: fields.get(name) for name in ALL_FIELDS}
        data.update(
            {
                "dispute": dispute.stripe_id,
                "revision": draft.revision if draft else None,
                "staged": bool(draft and draft.staged_at),
                "problem": draft.problem if draft else "",
                "liability_shift": dispute_liability(dispute=dispute).applies,
                "liability_explanation": dispute_liability(dispute=dispute).explanation,
            }
        )
        return Response(data)


def _act(dispute: Dispute, action: Any) -> Response:
    try:
        return Response(_result(action()), status=status.HTTP_200_OK)
    except DisputeActionRefused as error:
        return Response({"error": str(error)}, status=status.HTTP_400_BAD_REQUEST)
    except (StripeUnavailable, RateLimited) as error:
        # The claim stays: repeating the request sends the same Stripe request again.
        return Response({"error": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)


class DisputeSubmitApi(APIView):
    """`POST /api/finance/disputes/<du_id>/submit/` (Finance, `Idempotency-Key`): submits the
    evidence once; again (any key) answers the same and calls Stripe no more."""

    permission_classes = [IsFinance]

    class InputSerializer(serializers.Serializer):
        uncategorized_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)

    @extend_schema(request=InputSerializer, responses=DisputeResultSerializer)
    def post(self, request: Request, dispute_id: str) -> Response:
        dispute = dispute_get_by_stripe_id(stripe_id=dispute_id)
        if dispute is None:
            return _not_found(dispute_id)
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            return Response({"error": "uncategorized_text must be text."}, status=status.HTTP_400_BAD_REQUEST)
        extra = serializer.validated_data.get("uncategorized_text") or None

        def run(record: ApiIdempotencyKey) -> Response:
            return _act(
                dispute, lambda: dispute_evidence_submit(dispute=dispute, user=request.user, extra_text=extra)
            )

        return idempotent_write(request=request, scope=f"disputes:{dispute.stripe_id}:submit", run=run)


class DisputeAcceptApi(APIView):
    """`POST /api/finance/disputes/<du_id>/accept/` (Finance, `Idempotency-Key`): closes the
    dispute as lost, once."""

    permission_classes = [IsFinance]

    @extend_schema(request=None, responses=DisputeResultSerializer)
    def post(self, request: Request, dispute_id: str) -> Response:
        dispute = dispute_get_by_stripe_id(stripe_id=dispute_id)
        if dispute is None:
            return _not_found(dispute_id)

        def run(record: ApiIdempotencyKey) -> Response:
            return _act(dispute, lambda: dispute_accept(dispute=dispute, user=request.user))

        return idempotent_write(request=request, scope=f"disputes:{dispute.stripe_id}:accept", run=run)
