"""Pieces every admin uses, so that money, addresses, Stripe links and read-only pages look the
same on every model's page.

- `money_display(amount, currency)` and `money_column("amount", "currency", description=...)`:
  integer minor units shown as `£24.00`, never `2400`.
- `address_display(address)`: a Stripe-shaped address as readable lines, country by name.
- `stripe_link(object_id, livemode)`: the object's page in the Stripe Dashboard (or in the
  emulator, when the project runs against it).
- `ReadOnlyAdminMixin`: for mirrors of Stripe data and audit rows. Pages can be viewed, never
  added, changed or deleted, so no Save buttons; admin actions still work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from config.addresses import address_lines
from config.money import format_money
from payments.stripe_gateway import dashboard_url

EMPTY = "-"


def money_display(amount: int | None, currency: str | None) -> str:
    """`money_display(2400, "gbp")` → `£24.00`; "-" when there is no amount."""
    if amount is None or not currency:
        return EMPTY
    return format_money(int(amount), currency)


def money_column(
    amount_field: str = "amount", currency_field: str = "currency", *, description: str = "Amount"
) -> Callable[[Any, Any], str]:
    """An admin column or read-only field showing a model's money. In a ModelAdmin or inline:
    `amount_shown = money_column("amount", "currency", description="Amount")`, then name
    `amount_shown` in `list_display`, `fields` and `readonly_fields`. Sorts by the amount."""

    @admin.display(description=description, ordering=amount_field)
    def column(model_admin: Any, obj: Any) -> str:
        return money_display(getattr(obj, amount_field), getattr(obj, currency_field))

    return column


def address_display(address: Mapping[str, Any] | None) -> SafeString | str:
    """A Stripe-shaped address as lines separated by <br>, each line escaped; "-" when empty."""
    lines = address_lines(address)
    if not lines:
        return EMPTY
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


def stripe_link(object_id: str | None, livemode: bool) -> SafeString | str:
    """The id, exactly as Stripe gives it, linking to the object's page at Stripe."""
    if not object_id:
        return EMPTY
    url = dashboard_url(object_id=object_id, livemode=livemode)
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, object_id)


class ReadOnlyAdminMixin:
    """View-only admin (ModelAdmin or inline). Without change permission Django renders fields as
    text and shows only "Close", not Save / Save and continue editing. Actions that call services
    (replay, re-sync) are unaffected: they do not need change permission."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
