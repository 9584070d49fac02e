"""Customer forms. None of them carries a price or an amount: anything of the kind that a tampered
form sends is simply not a field, and the server prices from the catalog."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms

from orders.cart import MAX_QUANTITY
from orders.models import OrderCheckout

COUNTRIES = [
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("NL", "Netherlands"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("US", "United States"),
    ("JP", "Japan"),
]


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


class AddToCartForm(forms.Form):
    product_id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1, label="Quantity")


class UpdateCartForm(forms.Form):
    product_id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY, label="Quantity")


class CheckoutForm(forms.Form):
    form_token = forms.CharField(max_length=64, min_length=16, widget=forms.HiddenInput)
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    name = forms.CharField(
        label="Full name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    billing_line1 = forms.CharField(
        label="Address",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "billing address-line1"}),
    )
    billing_line2 = forms.CharField(
        label="Address line 2 (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "billing address-line2"}),
    )
    billing_city = forms.CharField(
        label="Town or city",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "billing address-level2"}),
    )
    billing_postal_code = forms.CharField(
        label="Postcode",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "billing postal-code"}),
    )
    billing_country = forms.ChoiceField(
        label="Country",
        choices=COUNTRIES,
        widget=forms.Select(attrs={"autocomplete": "billing country"}),
    )
    shipping_same = forms.BooleanField(label="Ship to my billing address", required=False, initial=True)
    shipping_line1 = forms.CharField(
        label="Address",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "shipping address-line1"}),
    )
    shipping_line2 = forms.CharField(
        label="Address line 2 (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "shipping address-line2"}),
    )
    shipping_city = forms.CharField(
        label="Town or city",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "shipping address-level2"}),
    )
    shipping_postal_code = forms.CharField(
        label="Postcode",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "shipping postal-code"}),
    )
    shipping_country = forms.ChoiceField(
        label="Country",
        choices=COUNTRIES,
        required=False,
        widget=forms.Select(attrs={"autocomplete": "shipping country"}),
    )
    method = forms.ChoiceField(
        label="How would you like to pay?",
        choices=[
            (OrderCheckout.Method.PAYMENT_ELEMENT, "Pay by card on this site"),
            (OrderCheckout.Method.CHECKOUT, "Pay on Stripe's secure checkout page"),
        ],
        initial=OrderCheckout.Method.PAYMENT_ELEMENT,
        widget=forms.RadioSelect,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("shipping_same"):
            for name in ("shipping_line1", "shipping_city", "shipping_postal_code", "shipping_country"):
                if not data.get(name):
                    self.add_error(name, "Enter the shipping address, or tick “Ship to my billing address”.")
        return data

    def billing_address(self) -> dict[str, str]:
        return self._address("billing")

    def shipping_address(self) -> dict[str, str]:
        return self._address("billing" if self.cleaned_data.get("shipping_same") else "shipping")

    def _address(self, prefix: str) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "line1": data.get(f"{prefix}_line1") or "",
            "line2": data.get(f"{prefix}_line2") or "",
            "city": data.get(f"{prefix}_city") or "",
            "postal_code": data.get(f"{prefix}_postal_code") or "",
            "country": data.get(f"{prefix}_country") or "",
        }
