"""Mounted at /api/finance/ (config/urls.py)."""

from django.urls import path

from reconciliation.apis import DiscrepancyListApi, PayoutDetailApi, PayoutLinesCsvApi, PayoutListApi

app_name = "reconciliation"
urlpatterns = [
    path("payouts/", PayoutListApi.as_view(), name="payout-list"),
    path("payouts/<str:payout_id>/", PayoutDetailApi.as_view(), name="payout-detail"),
    path("payouts/<str:payout_id>/lines.csv", PayoutLinesCsvApi.as_view(), name="payout-lines-csv"),
    path("discrepancies/", DiscrepancyListApi.as_view(), name="discrepancy-list"),
]
