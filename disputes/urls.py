"""The finance API's dispute endpoints, mounted at /api/finance/disputes/ (finance-api.md)."""

from django.urls import path

from disputes.apis import DisputeAcceptApi, DisputeEvidenceApi, DisputeListApi, DisputeSubmitApi

app_name = "disputes"

urlpatterns = [
    path("", DisputeListApi.as_view(), name="list"),
    path("<str:dispute_id>/evidence/", DisputeEvidenceApi.as_view(), name="evidence"),
    path("<str:dispute_id>/submit/", DisputeSubmitApi.as_view(), name="submit"),
    path("<str:dispute_id>/accept/", DisputeAcceptApi.as_view(), name="accept"),
]
