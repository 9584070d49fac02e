"""`/api/staff/…` of the finance API (finance-api.md, "Search")."""

from django.urls import path

from console.apis import StaffSearchApi

urlpatterns = [
    path("search/", StaffSearchApi.as_view(), name="api-staff-search"),
]
