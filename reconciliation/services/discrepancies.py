"""Discrepancies: opened once per kind and object (a partial unique constraint under it), fixed
automatically when the fix is safe, resolved by finance staff with a note (audited)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.roles import user_is_finance
from orders.models import Order
from payments.alerts import AlertKind, alert_send_on_commit
from payments.services.staff import staff_action_record
from reconciliation.models import Discrepancy, ReconciliationRun

ERROR_NOT_FINANCE = "Resolving a discrepancy needs the Finance role."
ERROR_NOTE_REQUIRED = "Say what was done about it: a note is required."
ERROR_NOT_OPEN = "This discrepancy is not open."
# What a fix and finance's resolve write; the rest of the locked row is saved as it was read.
FIXED_FIELDS = ["status", "note", "resolved_at", "updated_at"]
RESOLVE_FIELDS = ["status", "resolved_by", "resolved_at", "note", "updated_at"]


def discrepancy_open(
    *,
    kind: str,
    object_id: str,
    detail: str,
    order: Order | None = None,
    run: ReconciliationRun | None = None,
    alert: bool = True,
) -> tuple[Discrepancy, bool]:
    """The open case of this kind for this object, opening it if there is none. Two callers at
    once open one: the partial unique constraint refuses the second insert, which then reads the
    first. Opening one alerts staff once the transaction commits (identifiers only)."""
    open_case = {"kind": kind, "object_id": object_id, "status": Discrepancy.Status.OPEN}
    cases = Discrepancy.objects.filter(**open_case)
    existing = cases.first()  # pragma: no mutate: a fast path; the unique constraint yields the same case
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            discrepancy = Discrepancy.objects.create(
                kind=kind, object_id=object_id, detail=detail, order=order, run=run
            )
    except IntegrityError:
        return Discrepancy.objects.get(**open_case), False  # pragma: no mutate: reached only under a race
    if alert:
        alert_send_on_commit(
            kind=AlertKind.DISCREPANCY_OPENED,
            message=f"Ledger discrepancy {kind} on {object_id}" + (f" ({order.number})" if order else ""),
            ids={
                "discrepancy": discrepancy.pk,
                "kind": kind,
                "object": object_id,
                "order": order.number if order else None,
            },
        )
    return discrepancy, True


def discrepancy_record_fixed(
    *,
    kind: str,
    object_id: str,
    detail: str,
    order: Order | None = None,
    run: ReconciliationRun | None = None,
) -> Discrepancy:
    """A difference the ledger check fixed itself: recorded as `auto_fixed` (nothing to do), and
    an open case of the same kind and object, if any, is closed with it."""
    now = timezone.now()
    with transaction.atomic():
        open_case = (
            Discrepancy.objects.select_for_update()
            .filter(kind=kind, object_id=object_id, status=Discrepancy.Status.OPEN)
            .first()
        )
        if open_case is not None:
            open_case.status = Discrepancy.Status.AUTO_FIXED
            open_case.note = detail
            open_case.resolved_at = now
            open_case.save(
                update_fields=FIXED_FIELDS,  # pragma: no mutate: a locked, fresh row: all columns match
            )
            return open_case
        return Discrepancy.objects.create(
            kind=kind,
            object_id=object_id,
            detail=detail,
            order=order,
            run=run,
            status=Discrepancy.Status.AUTO_FIXED,
            resolved_at=now,
        )


def discrepancy_close(*, kind: str, object_id: str, note: str) -> int:
    """Close the open case of this kind and object as auto-fixed (the difference is gone)."""
    return Discrepancy.objects.filter(kind=kind, object_id=object_id, status=Discrepancy.Status.OPEN).update(
        status=Discrepancy.Status.AUTO_FIXED, note=note, resolved_at=timezone.now(), updated_at=timezone.now()
    )


def discrepancy_resolve(*, discrepancy: Discrepancy, user: Any, note: str) -> Discrepancy:
    """Finance staff close an open case with a note; who and when are recorded on the case and in
    the audit trail, in the same transaction."""
    if not user_is_finance(user):
        raise PermissionDenied(ERROR_NOT_FINANCE)
    note = note.strip()
    if not note:
        raise ValidationError(ERROR_NOTE_REQUIRED)
    with transaction.atomic():
        locked = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if locked.status != Discrepancy.Status.OPEN:
            raise ValidationError(ERROR_NOT_OPEN)
        locked.status = Discrepancy.Status.RESOLVED
        locked.resolved_by = user
        locked.resolved_at = timezone.now()
        locked.note = note
        locked.save(update_fields=RESOLVE_FIELDS)  # pragma: no mutate: a locked, fresh row: all columns match
        staff_action_record(
            actor=user,
            action="discrepancy_resolve",
            target=locked.object_id,
            outcome=f"discrepancy {locked.pk} ({locked.kind}) resolved",
        )
    return locked
