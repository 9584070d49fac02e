"""Template filters for the shop: money in the currency's own decimals."""

from django import template

from config.money import format_money

register = template.Library()


@register.filter
def money(amount: int, currency: str) -> str:
    """`{{ order.amount|money:order.currency }}` → £42.00, ¥4,200."""
    return format_money(int(amount), str(currency))
