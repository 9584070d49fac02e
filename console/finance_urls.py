"""`/api/finance/orders/…` of the finance API (finance-api.md, "Orders and refunds")."""

from django.urls import path

from console.apis import FinanceOrderApi, FinanceOrderRefundsApi

urlpatterns = [
    path("<str:number>/", FinanceOrderApi.as_view(), name="api-finance-order"),
    path("<str:number>/refunds/", FinanceOrderRefundsApi.as_view(), name="api-finance-order-refunds"),
]
