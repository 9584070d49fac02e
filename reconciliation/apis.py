"""The finance API's payouts and discrepancies (read-only): thin DRF views over the selectors.

Its paths and field names are a contract finance tooling is written against (README, "Finance
API"): keep them. Money in integer minor units with a lower-case currency, times in ISO 8601 UTC,
lists as `{"results": [...], "next": <url or null>}`, errors as `{"error": "…"}`. Permission:
the project default (`IsSupport`; Finance users have it too)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.models import order_number
from reconciliation.models import Discrepancy, Payout
from reconciliation.selectors import (
    discrepancy_list,
    payout_get,
    payout_lines,
    payout_lines_csv_rows,
    payout_list,
    payout_summary,
)

ERROR_NO_PAYOUT = "No payout with this id; use the po_… id Stripe gives."
ERROR_BAD_STATUS = "status must be one of: open, auto_fixed, resolved."


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="The opaque cursor of a `next` link."),
    OpenApiParameter("limit", int, description="Items per page."),
]


class ResultsPagination(CursorPagination):
    """Keyset pages (fast at any depth) answered as `{"results", "next"}`."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link()})


class PayoutPagination(ResultsPagination):
    ordering = ("-stripe_created", "-id")


class LinePagination(ResultsPagination):
    page_size = 100
    max_page_size = 1000
    ordering = ("stripe_created", "id")


class DiscrepancyPagination(ResultsPagination):
    ordering = ("-created_at", "-id")


def _order_number(order_id: int | None) -> str | None:
    return order_number(order_id) if order_id else None


class PayoutFields(serializers.Serializer):
    id = serializers.CharField(source="stripe_id")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    arrival_date = serializers.DateTimeField(allow_null=True)
    reconciled = serializers.BooleanField()
    unexplained = serializers.SerializerMethodField()
    trace_id = serializers.CharField()
    automatic = serializers.BooleanField()
    method = serializers.CharField()

    def get_unexplained(self, payout: Payout) -> int:
        """amount minus the net of its lines: the whole amount until its lines are listed."""
        return payout.unexplained if payout.unexplained is not None else payout.amount


class PayoutListApi(APIView):
    """`GET /api/finance/payouts/`: every payout, newest first."""

    class OutputSerializer(PayoutFields):
        pass

    class PayoutPageSerializer(serializers.Serializer):
        results = PayoutFields(many=True)
        next = serializers.URLField(allow_null=True)

    @extend_schema(
        operation_id="finance_payouts_list", parameters=PAGE_PARAMETERS, responses=PayoutPageSerializer
    )
    def get(self, request: Request) -> Response:
        paginator = PayoutPagination()
        page = paginator.paginate_queryset(payout_list(), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class LineSerializer(serializers.Serializer):
    balance_transaction = serializers.CharField(source="stripe_id")
    type = serializers.CharField()
    reporting_category = serializers.CharField()
    source = serializers.CharField(source="source_id")  # type: ignore[assignment]  # the contract names it; DRF pops declared fields
    order = serializers.SerializerMethodField()
    amount = serializers.IntegerField()
    fee = serializers.IntegerField()
    net = serializers.IntegerField()
    currency = serializers.CharField()
    created = serializers.DateTimeField(source="stripe_created", allow_null=True)
    available_on = serializers.DateTimeField(allow_null=True)

    def get_order(self, line: Any) -> str | None:
        return _order_number(line.order_id)


class SummarySerializer(serializers.Serializer):
    charges = serializers.IntegerField()
    refunds = serializers.IntegerField()
    disputes = serializers.IntegerField()
    fees = serializers.IntegerField()
    adjustments = serializers.IntegerField()
    net = serializers.IntegerField()


class PayoutDetailApi(APIView):
    """`GET /api/finance/payouts/<po_id>/`: the payout, its summary and a page of its lines
    (`lines_next` is the next page's address; `?limit=` up to 1000)."""

    class PayoutDetailSerializer(PayoutFields):
        summary = SummarySerializer()
        lines = LineSerializer(many=True)
        lines_next = serializers.URLField(allow_null=True)

    @extend_schema(
        operation_id="finance_payouts_retrieve", parameters=PAGE_PARAMETERS, responses=PayoutDetailSerializer
    )
    def get(self, request: Request, payout_id: str) -> Response:
        payout = payout_get(stripe_id=payout_id)
        if payout is None:
            return Response({"error": ERROR_NO_PAYOUT}, status=status.HTTP_404_NOT_FOUND)
        paginator = LinePagination()
        lines = paginator.paginate_queryset(payout_lines(payout=payout), request, view=self)
        summary = payout_summary(payout=payout)
        data = dict(PayoutFields(payout).data)
        # Computed from the lines, as the contract defines it (and equal to the stored figure,
        # which the list shows).
        data["unexplained"] = payout.amount - summary["net"]
        data["summary"] = summary
        data["lines"] = LineSerializer(lines, many=True).data
        data["lines_next"] = paginator.get_next_link()
        return Response(data)


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, media_type: str | None = None, renderer_context: Any = None) -> bytes:
        # Only errors are rendered here (the lines themselves are streamed by the view).
        message = str(data)
        if isinstance(data, dict):
            message = str(data.get("error") or data.get("detail") or "")
        return f"error\n{message}\n".encode()


class _Echo:
    def write(self, value: str) -> str:
        return value


class PayoutLinesCsvApi(APIView):
    """`GET /api/finance/payouts/<po_id>/lines.csv`: one row per line, for the accounting tool."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, payout_id: str) -> Any:
        payout = payout_get(stripe_id=payout_id)
        if payout is None:
            return Response({"error": ERROR_NO_PAYOUT}, status=status.HTTP_404_NOT_FOUND)
        return payout_csv_response(payout=payout)


def payout_csv_response(*, payout: Payout) -> StreamingHttpResponse:
    """The lines as a streamed CSV download (the API and the admin both answer with it)."""
    writer = csv.writer(_Echo())
    rows: Iterator[str] = (writer.writerow(row) for row in payout_lines_csv_rows(payout=payout))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{payout.stripe_id}-lines.csv"'
    return response


class DiscrepancyFields(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    object = serializers.CharField(source="object_id")
    order = serializers.SerializerMethodField()
    status = serializers.CharField()
    detail = serializers.CharField()
    opened_at = serializers.DateTimeField(source="created_at")
    resolved_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()

    def get_order(self, discrepancy: Discrepancy) -> str | None:
        return _order_number(discrepancy.order_id)


class DiscrepancyListApi(APIView):
    """`GET /api/finance/discrepancies/?status=open|auto_fixed|resolved`, newest first."""

    class OutputSerializer(DiscrepancyFields):
        pass

    class DiscrepancyPageSerializer(serializers.Serializer):
        results = DiscrepancyFields(many=True)
        next = serializers.URLField(allow_null=True)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(Discrepancy.Status.values)), *PAGE_PARAMETERS],
        responses=DiscrepancyPageSerializer,
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in Discrepancy.Status.values:
            return Response({"error": ERROR_BAD_STATUS}, status=status.HTTP_400_BAD_REQUEST)
        paginator = DiscrepancyPagination()
        page = paginator.paginate_queryset(discrepancy_list(status=wanted), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
