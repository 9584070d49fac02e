"""The staff console's admin pages (config/urls.py mounts them under `admin/`, before the
admin's own catch-all, so the admin login wraps them through `admin.site.admin_view`)."""

from django.urls import path

from console.views import admin_order_refund, admin_search

urlpatterns = [
    path("search/", admin_search, name="admin-search"),
    path("orders/order/<int:pk>/refund/", admin_order_refund, name="admin-order-refund"),
]
