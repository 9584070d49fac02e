"""The staff search and the finance API's order and refund endpoints (finance-api.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.search import record_find
from console.selectors import order_get_by_number, order_money_get
from core.idempotency import idempotent_write
from core.models import ApiIdempotencyKey
from core.permissions import IsFinance, IsSupport
from payments.models import RefundRequest
from payments.services.refund_requests import RefundOutcomeUnknown, RefundRefused, refund_request_create

ERROR_EMPTY_QUERY = "Give an id, an order number or an email address to search for (?q=…)."
ERROR_NO_ORDER = "No order has the number {number}."


class StripeDidNotAnswer(APIException):
    """503 that keeps the Idempotency-Key claimed: the retry with the same key resends the same
    refund request to Stripe with the same Stripe idempotency key."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, message: str) -> None:
        super().__init__(detail={"error": message})


def _first_error(errors: Any) -> str:
    if isinstance(errors, dict):
        field, value = next(iter(errors.items()))
        return f"{field}: {_first_error(value)}"
    if isinstance(errors, list) and errors:
        return _first_error(errors[0])
    return str(errors)


class StaffSearchApi(APIView):
    """`GET /api/staff/search/?q=…`: every record an id, order number or email names."""

    permission_classes = [IsSupport]

    class ResultSerializer(serializers.Serializer):
        kind = serializers.CharField()
        id = serializers.CharField()
        order = serializers.CharField(allow_null=True)
        admin_url = serializers.CharField()

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True)], responses=ResultSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        query = str(request.query_params.get("q") or "").strip()
        if not query:
            return Response({"error": ERROR_EMPTY_QUERY}, status=status.HTTP_400_BAD_REQUEST)
        results = record_find(query=query)
        return Response({"results": self.ResultSerializer(results, many=True).data})


class RefundRequestOutputSerializer(serializers.Serializer):
    refund_request = serializers.IntegerField(source="pk")
    id = serializers.CharField(source="stripe_refund_id", allow_null=True)
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()


class FinanceOrderApi(APIView):
    """`GET /api/finance/orders/<number>/`: the order with every charge attempt, refund and
    dispute, read from our mirrors."""

    permission_classes = [IsSupport]

    class ChargeSerializer(serializers.Serializer):
        id = serializers.CharField(source="stripe_id")
        status = serializers.CharField()
        amount = serializers.IntegerField()
        amount_refunded = serializers.IntegerField()
        disputed = serializers.BooleanField()
        failure_code = serializers.CharField()

    class RefundSerializer(serializers.Serializer):
        id = serializers.CharField(allow_null=True)
        amount = serializers.IntegerField()
        status = serializers.CharField()
        reason = serializers.CharField()
        refund_request = serializers.IntegerField(allow_null=True)

    class DisputeSerializer(serializers.Serializer):
        id = serializers.CharField(source="stripe_id")
        status = serializers.CharField()
        amount = serializers.IntegerField()
        due_by = serializers.DateTimeField(source="evidence_due_by", allow_null=True)

    class OutputSerializer(serializers.Serializer):
        number = serializers.CharField()
        status = serializers.CharField()
        amount = serializers.IntegerField()
        currency = serializers.CharField()
        amount_refunded = serializers.IntegerField()
        payment_intent = serializers.CharField(allow_null=True)
        charges = serializers.ListField()
        refunds = serializers.ListField()
        disputes = serializers.ListField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, number: str) -> Response:
        order = order_get_by_number(number=number)
        if order is None:
            return Response({"error": ERROR_NO_ORDER.format(number=number)}, status=status.HTTP_404_NOT_FOUND)
        money = order_money_get(order=order)
        refunds = [
            {
                "id": r.stripe_refund_id,
                "amount": r.amount,
                "status": r.status,
                "reason": r.reason,
                "refund_request": r.pk,
            }
            for r in money.refund_requests
        ] + [
            {"id": r.stripe_id, "amount": r.amount, "status": r.status, "reason": "", "refund_request": None}
            for r in money.other_refunds
        ]
        data = {
            "number": order.number,
            "status": order.status,
            "amount": order.amount,
            "currency": order.currency,
            "amount_refunded": order.amount_refunded,
            "payment_intent": order.payment_intent_id,
            "charges": self.ChargeSerializer(money.charges, many=True).data,
            "refunds": self.RefundSerializer(refunds, many=True).data,
            "disputes": self.DisputeSerializer(money.disputes, many=True).data,
        }
        return Response(self.OutputSerializer(data).data)


class FinanceOrderRefundsApi(APIView):
    """`POST /api/finance/orders/<number>/refunds/` (Finance, `Idempotency-Key` required):
    refund part or all of what is left of a paid order."""

    permission_classes = [IsFinance]

    class InputSerializer(serializers.Serializer):
        amount = serializers.IntegerField(required=False, min_value=1)
        reason = serializers.ChoiceField(choices=RefundRequest.Reason.values)

    @extend_schema(request=InputSerializer, responses={201: RefundRequestOutputSerializer})
    def post(self, request: Request, number: str) -> Response:
        order = order_get_by_number(number=number)
        if order is None:
            return Response({"error": ERROR_NO_ORDER.format(number=number)}, status=status.HTTP_404_NOT_FOUND)

        def run(key: ApiIdempotencyKey) -> Response:
            serializer = self.InputSerializer(data=request.data)
            if not serializer.is_valid():
                return Response(
                    {"error": _first_error(serializer.errors)}, status=status.HTTP_400_BAD_REQUEST
                )
            try:
                refund_request = refund_request_create(
                    order=order,
                    amount=serializer.validated_data.get("amount"),
                    reason=serializer.validated_data["reason"],
                    requested_by=request.user,
                    api_key=key,
                )
            except RefundRefused as refused:
                return Response({"error": str(refused)}, status=status.HTTP_400_BAD_REQUEST)
            except RefundOutcomeUnknown as unknown:
                raise StripeDidNotAnswer(str(unknown)) from unknown
            return Response(
                RefundRequestOutputSerializer(refund_request).data, status=status.HTTP_201_CREATED
            )

        return idempotent_write(request=request, scope=f"refunds:{order.number}", run=run)
