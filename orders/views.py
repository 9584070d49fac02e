"""The shop's catalog and cart pages. The checkout, payment and order pages are in
`payments.views` (orders does not import payments); both sit under the `orders:` URL namespace
(config/urls.py).

Views are thin: read the request, call one service, render.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders.cart import Cart, CartError
from orders.forms import AddToCartForm, UpdateCartForm
from orders.models import Product

# ---------------------------------------------------------------------------- catalog and cart


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(active=True)
    return render(request, "shop/product_list.html", {"products": products, "cart": Cart(request.session)})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a quantity from 1 to 20.")
        return redirect("orders:product_list")
    try:
        product = Cart(request.session).add(
            product_id=form.cleaned_data["product_id"], quantity=form.cleaned_data["quantity"]
        )
    except CartError as error:
        messages.error(request, str(error))
        return redirect("orders:product_list")
    messages.success(request, f"Added {product.name} to your cart.")
    return redirect("orders:cart")


@require_http_methods(["GET", "HEAD"])
def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/cart.html", {"cart": Cart(request.session)})


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = UpdateCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a quantity from 0 to 20.")
        return redirect("orders:cart")
    try:
        Cart(request.session).set_quantity(
            product_id=form.cleaned_data["product_id"], quantity=form.cleaned_data["quantity"]
        )
    except CartError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Your cart was updated.")
    return redirect("orders:cart")
