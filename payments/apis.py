"""Small JSON endpoints for the customer's pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.cache import add_never_cache_headers
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.money import format_money
from orders.selectors import order_get_by_public_token
from payments.outcomes import order_outcome
from payments.services.checkout import order_payment_refresh


class OrderStatusApi(APIView):
    """`GET /orders/<token>/status/`: the order's state for the return page's polling.

    While the order is not final this may fetch its PaymentIntent (or Checkout Session) from
    Stripe, at most once every two seconds per order, and apply it through the same idempotent
    service as the webhook. The public token is the only credential; an unknown one is a 404."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    schema = None  # a customer page's endpoint, not part of the finance API's schema

    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=64)

    class OutputSerializer(serializers.Serializer):
        number = serializers.CharField()
        status = serializers.CharField()
        amount = serializers.IntegerField()
        currency = serializers.CharField()
        amount_display = serializers.CharField()
        final = serializers.BooleanField()
        outcome = serializers.CharField()
        title = serializers.CharField()
        message = serializers.CharField()

    def get(self, request: Request, token: str) -> Response:
        serializer = self.InputSerializer(data={"token": token})
        serializer.is_valid(raise_exception=True)
        order = order_get_by_public_token(token=serializer.validated_data["token"])
        if order is None:
            raise Http404("No such order")
        order = order_payment_refresh(order=order)
        outcome = order_outcome(order=order)
        data = self.OutputSerializer(
            {
                "number": order.number,
                "status": order.status,
                "amount": order.amount,
                "currency": order.currency,
                "amount_display": format_money(order.amount, order.currency),
                "final": outcome.final,
                "outcome": outcome.kind,
                "title": outcome.title,
                "message": outcome.message,
            }
        ).data
        response = Response(data)
        add_never_cache_headers(response)
        return response
