"""Role checks for admin templates: what a page offers follows the same functions that guard it."""

from typing import Any

from django import template

from core.roles import user_is_finance, user_is_support

register = template.Library()


@register.filter
def is_finance(user: Any) -> bool:
    return user_is_finance(user)


@register.filter
def is_support(user: Any) -> bool:
    return user_is_support(user)
