"""DRF permission classes for the finance and staff API, the same checks as the admin's."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from core.roles import user_is_finance, user_is_support


class IsSupport(BasePermission):
    message = "This needs the Support or Finance role."

    def has_permission(self, request: Any, view: Any) -> bool:
        return user_is_support(request.user)


class IsFinance(BasePermission):
    message = "This needs the Finance role."

    def has_permission(self, request: Any, view: Any) -> bool:
        return user_is_finance(request.user)
