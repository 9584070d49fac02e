"""Staff roles. Support reads everything, replays events and re-syncs; Finance also moves money
(refunds, dispute evidence, resolving discrepancies). The groups are created by a migration; the
admin and the finance API both ask these functions, so a role is enforced the same everywhere."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

SUPPORT = "Support"
FINANCE = "Finance"
ROLES = (SUPPORT, FINANCE)


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
