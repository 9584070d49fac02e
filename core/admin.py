"""What the admin asks of a staff user's role. Every ModelAdmin with actions mixes this in and
names the role on each action (`@admin.action(permissions=["support"])`): Django then leaves an
action out of the list, and refuses it when posted, for a user without that role. Viewing pages
comes from the `view_*` permissions both groups hold (core.roles.role_permissions_grant)."""

from __future__ import annotations

from django.http import HttpRequest

from core.roles import user_is_finance, user_is_support


class RoleAdminMixin:
    def has_support_permission(self, request: HttpRequest) -> bool:
        return user_is_support(request.user)

    def has_finance_permission(self, request: HttpRequest) -> bool:
        return user_is_finance(request.user)
