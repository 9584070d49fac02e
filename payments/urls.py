"""Stripe's webhook (`payments:`), and the shop's checkout, payment and order pages, which
config/urls.py puts in the shop's `orders:` namespace with the catalog and cart."""

from django.urls import path

from payments import views
from payments.apis import OrderStatusApi

app_name = "payments"
urlpatterns = [
    path("webhook/", views.stripe_webhook, name="webhook"),
]

shop_urlpatterns = [
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:token>/", views.order_detail, name="order_detail"),
    path("orders/<str:token>/status/", OrderStatusApi.as_view(), name="order_status"),
    path("orders/<str:token>/pay/", views.order_pay, name="order_pay"),
    path("orders/<str:token>/checkout/", views.order_checkout, name="order_checkout"),
    path("orders/<str:token>/checkout/success/", views.checkout_success, name="checkout_success"),
    path("orders/<str:token>/checkout/cancel/", views.checkout_cancel, name="checkout_cancel"),
]
