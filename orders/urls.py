"""The catalog and cart pages. config/urls.py puts them in the shop's `orders:` namespace,
together with the checkout, payment and order pages of `payments.urls`."""

from django.urls import path

from orders import views

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
]
