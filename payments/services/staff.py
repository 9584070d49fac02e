"""The audit trail of staff actions."""

from __future__ import annotations

from typing import Any

from payments.models import StaffAction


def staff_action_record(*, actor: Any, action: str, target: str, outcome: str = "") -> StaffAction:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return StaffAction.objects.create(actor=user, action=action, target=target[:255], outcome=outcome[:255])
