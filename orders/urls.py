from django.urls import path

from orders import views
from payments.apis import OrderStatusApi

app_name = "orders"
urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:token>/", views.order_detail, name="order_detail"),
    path("orders/<str:token>/status/", OrderStatusApi.as_view(), name="order_status"),
    path("orders/<str:token>/pay/", views.order_pay, name="order_pay"),
    path("orders/<str:token>/checkout/", views.order_checkout, name="order_checkout"),
    path("orders/<str:token>/checkout/success/", views.checkout_success, name="checkout_success"),
    path("orders/<str:token>/checkout/cancel/", views.checkout_cancel, name="checkout_cancel"),
]
