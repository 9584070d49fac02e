"""The audit trail of staff actions."""

from __future__ import annotations

from typing import Any

from payments.models import StaffAction


def staff_action_record(
    *, actor: Any, action: str, target: str, outcome: str = "", reason: str = ""
) -> StaffAction:
    """One audit row: who (`actor`, None for a job), what (`action`), to which id (`target`),
    why (`reason`) and what came of it (`outcome`). Call it inside the action's transaction."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return StaffAction.objects.create(
        actor=user, action=action, target=target[:255], reason=reason[:255], outcome=outcome[:255]
    )
