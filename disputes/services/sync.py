"""The dispute and early fraud warning mirrors: one forward-only sync service each.

Lock order: the event row (held by the event processing), then the dispute row, then the order
row (`orders.services` locks it)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.celery import task_send
from core.stripe_objects import id_of, time_of
from disputes.models import (
    CLOSED_STATUSES,
    DISPUTE_STATUS_RANK,
    RESPONDABLE_STATUSES,
    Dispute,
    EarlyFraudWarning,
)
from disputes.services.common import JsonDict
from orders.models import Order
from orders.selectors import order_find_for_stripe_object
from orders.services import order_mark_disputed
from payments import stripe_gateway
from payments.alerts import AlertKind, alert_send_on_commit
from payments.models import Charge
from payments.services.staff import staff_action_record

PREPARE_EVIDENCE_TASK = "disputes.prepare_evidence"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DisputeSyncResult:
    dispute: Dispute
    created: bool = False
    changed: bool = False
    closed: bool = False
    note: str = ""


def _dispute_fields(obj: JsonDict) -> dict[str, Any]:
    details = obj.get("evidence_details") or {}
    card = (obj.get("payment_method_details") or {}).get("card") or {}
    return {
        "status": str(obj.get("status") or ""),
        "reason": str(obj.get("reason") or "")[:64],
        "amount": int(obj.get("amount") or 0),
        "currency": str(obj.get("currency") or "").lower(),
        "evidence_due_by": time_of(details.get("due_by")),
        "has_evidence": bool(details.get("has_evidence")),
        "past_due": bool(details.get("past_due")),
        "submission_count": int(details.get("submission_count") or 0),
        "is_charge_refundable": bool(obj.get("is_charge_refundable")),
        "network_reason_code": str(card.get("network_reason_code") or obj.get("network_reason_code") or "")[
            :32
        ],
        "case_type": str(card.get("case_type") or "")[:32],
        "card_brand": str(card.get("brand") or "")[:32],
        "enhanced_eligibility_types": list(obj.get("enhanced_eligibility_types") or []),
    }


def _order_for(obj: JsonDict) -> Order | None:
    """The order of a disputed charge: the Charge mirror's, else the ids stored on the order."""
    charge_id = id_of(obj.get("charge"))
    # No charge id ("") matches no mirror: a mirrored charge always has its id.
    charge = Charge.objects.filter(stripe_id=charge_id).only("order_id").first()
    if charge is not None and charge.order_id is not None:
        return Order.objects.filter(pk=charge.order_id).first()
    # Not by the dispute's own metadata: that is whatever the Dashboard user typed there.
    return order_find_for_stripe_object(obj={**obj, "metadata": {}})


def dispute_sync(*, obj: JsonDict, seen_at: int | None = None) -> DisputeSyncResult:
    """Mirror a Dispute snapshot (from an event, or fetched by us: `seen_at` None means now).

    Forward-only (invariant 5): a closed dispute is final, a lower status changes nothing, and
    within one status rank an older snapshot changes nothing. The order becomes disputed. A new
    dispute that needs a response has its evidence prepared by a task queued on commit."""
    seen_at = int(time.time()) if seen_at is None else seen_at
    stripe_id = str(obj["id"])
    fields = _dispute_fields(obj)
    if fields["status"] not in DISPUTE_STATUS_RANK:
        raise ValueError(f"unknown dispute status {fields['status']!r}")
    with transaction.atomic():
        locked = Dispute.objects.select_for_update()
        dispute = locked.filter(stripe_id=stripe_id).first()  # pragma: no mutate: the create finds it too
        created = False
        if dispute is None:
            order = _order_for(obj)
            created_at = obj.get("created")
            try:
                with transaction.atomic():
                    dispute = Dispute.objects.create(
                        stripe_id=stripe_id,
                        livemode=bool(obj.get("livemode")),
                        stripe_created=time_of(created_at),
                        synced_at=timezone.now(),
                        charge_id=id_of(obj.get("charge")),
                        payment_intent_id=id_of(obj.get("payment_intent")) or None,
                        order=order,
                        status_at=seen_at,
                        **fields,
                    )
                created = True
            except IntegrityError:
                dispute = locked.get(stripe_id=stripe_id)
        previous = dispute.status  # before this snapshot (a dispute made now: its own)
        order_before = dispute.order_id
        changed = created
        if not created:
            changed = _dispute_apply(dispute, fields=fields, seen_at=seen_at, obj=obj)
        # A dispute first seen already closed (its earlier events missed) still tells its outcome.
        closed = dispute.status in CLOSED_STATUSES and (created or previous not in CLOSED_STATUSES)
        if closed and dispute.closed_at is None:
            dispute.closed_at = timezone.now()
            dispute.save(update_fields=["closed_at", "updated_at"])  # pragma: no mutate: a locked row
        if dispute.order_id is not None:
            order_mark_disputed(order=dispute.order)  # type: ignore[arg-type]
        # An order found only now (its Charge mirror arrived after the dispute) gets its evidence.
        linked = not created and order_before is None and dispute.order_id is not None
        _after_sync(dispute, created=created, closed=closed, previous=previous, linked=linked)
        note = "" if dispute.order_id else "dispute mirrored; no order matches its charge"
        return DisputeSyncResult(dispute, created, changed, closed, note)


def _dispute_apply(dispute: Dispute, *, fields: dict[str, Any], seen_at: int, obj: JsonDict) -> bool:
    """Apply a snapshot to a locked, existing dispute if the forward-only rules allow it."""
    if dispute.status in CLOSED_STATUSES:
        return False
    current, new = DISPUTE_STATUS_RANK[dispute.status], DISPUTE_STATUS_RANK[fields["status"]]
    if new < current or (new == current and seen_at < dispute.status_at):
        return False
    # Counts only grow, even if Stripe's snapshots disagree for a moment.
    fields["submission_count"] = max(fields["submission_count"], dispute.submission_count)
    before = {name: getattr(dispute, name) for name in fields}
    for name, value in fields.items():
        setattr(dispute, name, value)
    update = [name for name in fields if before[name] != getattr(dispute, name)]
    if not dispute.payment_intent_id and id_of(obj.get("payment_intent")):
        dispute.payment_intent_id = id_of(obj.get("payment_intent"))
        update.append("payment_intent")
    if dispute.order_id is None:
        order = _order_for(obj)
        if order is not None:
            dispute.order = order
            update.append("order")
    dispute.status_at = max(dispute.status_at, seen_at)
    dispute.synced_at = timezone.now()
    written = [*update, "status_at", "synced_at", "updated_at"]  # pragma: no mutate: a locked row
    dispute.save(update_fields=written)  # pragma: no mutate: a locked row
    return bool(update)


def _after_sync(dispute: Dispute, *, created: bool, closed: bool, previous: str, linked: bool) -> None:
    number = dispute.order.number if dispute.order_id and dispute.order else "(no order)"
    ids = {"dispute": dispute.stripe_id, "order": number, "charge": dispute.charge_id}
    if created:
        due = (
            dispute.evidence_due_by.strftime("%Y-%m-%d %H:%M UTC")
            if dispute.evidence_due_by
            else "no deadline"
        )
        alert_send_on_commit(
            kind=AlertKind.DISPUTE_OPENED,
            message=f"Dispute {dispute.stripe_id} opened on order {number}: {dispute.reason or 'no reason'}, "
            f"{dispute.status}, evidence due {due}",
            ids=ids,
        )
    if closed:
        alert_send_on_commit(
            kind=AlertKind.DISPUTE_CLOSED,
            message=f"Dispute {dispute.stripe_id} on order {number} closed: {dispute.status}",
            ids=ids,
        )
    becomes_respondable = dispute.status in RESPONDABLE_STATUSES and (
        created or linked or previous != dispute.status
    )
    if becomes_respondable and dispute.order_id is not None:
        pk = dispute.pk
        transaction.on_commit(lambda: evidence_prepare_queue(dispute_pk=pk))


def evidence_prepare_queue(*, dispute_pk: int) -> bool:
    """Queue the evidence task. A broker that does not answer must not break the event that
    opened the dispute: the evidence sweep (beat) queues it again later."""
    try:
        task_send(name=PREPARE_EVIDENCE_TASK, args=[dispute_pk])
    except Exception as error:
        logger.warning(
            "dispute evidence task not queued dispute_pk=%s (%s)", dispute_pk, type(error).__name__
        )
        return False
    return True


def early_fraud_warning_sync(*, obj: JsonDict, seen_at: int | None = None) -> EarlyFraudWarning:
    """Mirror a Radar early fraud warning; staff are alerted when it first arrives (and when it
    becomes actionable), with ids only. An older snapshot changes nothing."""
    seen_at = int(time.time()) if seen_at is None else seen_at
    charge_id = id_of(obj.get("charge"))
    with transaction.atomic():
        warning = EarlyFraudWarning.objects.select_for_update().filter(stripe_id=str(obj["id"])).first()
        actionable = bool(obj.get("actionable"))
        alert = False  # pragma: no mutate: only read for its truth, and None is as false
        if warning is None:
            created_at = obj.get("created")
            order = _order_for({"charge": charge_id, "payment_intent": obj.get("payment_intent")})
            warning, made = EarlyFraudWarning.objects.get_or_create(
                stripe_id=str(obj["id"]),
                defaults={
                    "charge_id": charge_id,
                    "payment_intent_id": id_of(obj.get("payment_intent")),
                    "order": order,
                    "fraud_type": str(obj.get("fraud_type") or "")[:64],
                    "actionable": actionable,
                    "livemode": bool(obj.get("livemode")),
                    "stripe_created": time_of(created_at),
                    "synced_at": timezone.now(),
                    "status_at": seen_at,
                },
            )
            alert = made
        elif seen_at >= warning.status_at:
            alert = actionable and not warning.actionable
            warning.actionable = actionable
            warning.fraud_type = str(obj.get("fraud_type") or warning.fraud_type)[:64]
            warning.status_at = seen_at
            warning.synced_at = timezone.now()
            warning.save(  # pragma: no mutate: the row is locked and fresh: all columns match
                update_fields=["actionable", "fraud_type", "status_at", "synced_at", "updated_at"]
            )
        if alert:
            number = warning.order.number if warning.order else "(no order)"
            advice = "actionable: a refund now avoids a dispute" if warning.actionable else "not actionable"
            alert_send_on_commit(
                kind=AlertKind.EARLY_FRAUD_WARNING,
                message=f"Early fraud warning {warning.stripe_id} on order {number}, charge {charge_id}: "
                f"{warning.fraud_type or 'no type'}, {advice}",
                ids={"early_fraud_warning": warning.stripe_id, "order": number, "charge": charge_id},
            )
        return warning


def dispute_resync(*, dispute: Dispute, actor: Any = None) -> DisputeSyncResult:
    """Fetch the dispute from Stripe and apply it (staff's re-sync, and after a refused call)."""
    result = dispute_sync(obj=stripe_gateway.dispute_retrieve(dispute_id=dispute.stripe_id))
    if actor is not None:
        staff_action_record(
            actor=actor, action="resync", target=dispute.stripe_id, outcome=result.dispute.status
        )
    return result
