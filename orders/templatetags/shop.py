"""Template filters for the shop: money in the currency's own decimals, addresses as lines with
the country's name."""

from collections.abc import Mapping
from typing import Any

from django import template

from config.addresses import address_lines as _address_lines
from config.addresses import country_name as _country_name
from config.money import format_money

register = template.Library()


@register.filter
def money(amount: int, currency: str) -> str:
    """`{{ order.amount|money:order.currency }}` → £42.00, ¥4,200."""
    return format_money(int(amount), str(currency))


@register.filter
def address_lines(address: Mapping[str, Any] | None) -> list[str]:
    """`{% for line in order.shipping_address|address_lines %}` → "12 St James's Square",
    "London SW1Y 4JH", "United Kingdom"."""
    return _address_lines(address)


@register.filter
def country_name(code: str | None) -> str:
    """`{{ "GB"|country_name }}` → United Kingdom."""
    return _country_name(code)
