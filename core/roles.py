"""Staff roles. Support reads everything, replays events and re-syncs; Finance also moves money
(refunds, dispute evidence, resolving discrepancies). The groups are created by a migration; the
admin and the finance API both ask these functions, so a role is enforced the same everywhere."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

SUPPORT = "Support"
FINANCE = "Finance"
ROLES = (SUPPORT, FINANCE)
# The apps whose records both roles may see in the admin (not auth: roles do not manage users).
VIEWABLE_APPS = ("core", "orders", "payments", "reconciliation", "disputes", "console")


def role_group(name: str) -> Any:
    """The role's group. Created by migration core 0001; made again here when missing (tests that
    flush the database remove what data migrations created)."""
    if name not in ROLES:
        raise ValueError(f"unknown role {name!r}")
    return Group.objects.get_or_create(name=name)[0]


def _in_group(user: Any, name: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    return bool(user.groups.filter(name=name).exists())


def user_is_finance(user: Any) -> bool:
    return _in_group(user, FINANCE)


def user_is_support(user: Any) -> bool:
    """Support rights: every Finance user has them too."""
    return _in_group(user, SUPPORT) or _in_group(user, FINANCE)


def role_permissions_grant(*, app_label: str, using: str = "default") -> None:
    """Give both roles Django's `view_*` permission on every model of `app_label`, so Support
    and Finance can open every page of the admin and nothing more: what they may *do* is asked
    of the functions above (admin actions, the refund page, the API). Run after every migrate
    (core.apps), so a model added later is covered, and the groups come back after a flush."""
    if app_label not in VIEWABLE_APPS:
        return
    views = Permission.objects.using(using).filter(
        content_type__app_label=app_label, codename__startswith="view_"
    )
    for name in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*views)
