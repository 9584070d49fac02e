"""The PaymentIntent and Charge mirrors: one sync service per object, the only writers of those
tables.

Every snapshot, whoever brought it (an event handler, the staff re-sync, the recovery job, the
checkout return page, `resync_payments`), goes through `payment_intent_sync` / `charge_sync`.
Each is one statement, `INSERT … ON CONFLICT (stripe_id) DO UPDATE … WHERE <newer>`, so the
forward-only rule (invariant 5) is decided by the database on the row as it is at that moment,
concurrent writers included, and a stale or repeated snapshot costs one statement that changes
nothing:

- a snapshot of a higher status rank wins;
- within a rank, the snapshot with the newer Stripe time (`status_at`: the event's `created`, or
  now for an object we have just fetched) wins;
- Stripe's times are seconds, and one second often holds several changes (a PaymentIntent
  created and declined, a charge made and refunded): at the same second, a snapshot wins only
  if what only grows has not shrunk (the amount received; the amount refunded, disputed,
  captured). A repeat rewrites the same values.

Lock order: event rows, the order, then the PaymentIntent mirror, then Charge mirrors.

A charge links to its PaymentIntent mirror in its own upsert when that exists, and the
PaymentIntent's sync links the charges that came first. `stripe_object_apply` holds the order's
lock around both, so a payment's events processed at once still link. Objects of no order of
ours are not serialised that way: a charge and its PaymentIntent first stored at the very same
moment can stay unlinked until either is synced again (`resync_payments` does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model, Subquery
from django.utils import timezone

from core.stripe_objects import id_of, time_of
from orders.models import Order
from payments.models import Charge, PaymentIntent

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

# Statuses that can follow one another in any order as a customer tries cards (a decline, a new
# card, 3-D Secure, an asynchronous failure) share a rank: the newer snapshot wins among them.
# Then an authorised payment, then the final states. Stripe cannot cancel a succeeded
# PaymentIntent, so if both arrive the money was taken: succeeded ranks above canceled.
# A PaymentIntent that is `requires_payment_method` or `requires_confirmation` with no charge
# and no last payment error is one nobody has tried to pay yet (an attempt leaves a charge or
# an error, or is `requires_action`): it ranks below every attempt (FRESH_RANK), so
# `payment_intent.created` never undoes the decline of the same second (`confirm=true`).
PAYMENT_INTENT_STATUS_RANK: dict[str, int] = {
    PaymentIntent.Status.REQUIRES_PAYMENT_METHOD: 1,
    PaymentIntent.Status.REQUIRES_CONFIRMATION: 1,
    PaymentIntent.Status.REQUIRES_ACTION: 1,
    PaymentIntent.Status.PROCESSING: 1,
    PaymentIntent.Status.REQUIRES_CAPTURE: 2,
    PaymentIntent.Status.CANCELED: 3,
    PaymentIntent.Status.SUCCEEDED: 4,
}
FRESH_RANK = 0
# A charge is one attempt: pending, then succeeded or failed for good. Later snapshots of a
# settled charge (refunds, a dispute, a capture, metadata) keep its status and win by time.
CHARGE_STATUS_RANK: dict[str, int] = {
    Charge.Status.PENDING: 0,
    Charge.Status.SUCCEEDED: 1,
    Charge.Status.FAILED: 1,
}


class SnapshotInvalid(ValueError):
    """A snapshot without the fields a mirror needs (id, status, amount, currency)."""


def _now_seconds() -> int:
    return int(time.time())


def _text(value: Any, length: int) -> str:
    return "" if value is None else str(value)[:length]


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _small_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 32768 else None


def _checked(
    obj: JsonDict, *, kind: str, prefixes: tuple[str, ...], ranks: dict[str, int]
) -> tuple[str, str]:
    """The snapshot's id and status, or SnapshotInvalid."""
    object_id, status = obj.get("id"), obj.get("status")
    amount, currency = obj.get("amount"), obj.get("currency")
    if (
        obj.get("object") != kind
        or not isinstance(object_id, str)
        or not object_id.startswith(prefixes)
        or len(object_id) > 255
        or status not in ranks
        or not isinstance(amount, int)
        or amount < 0
        or not isinstance(currency, str)
        or len(currency) != 3
        or not currency.isalpha()
    ):
        raise SnapshotInvalid(f"not a complete {kind} snapshot: {str(object_id)[:64]!r}")
    return object_id, str(status)


# ---------------------------------------------------------------------------- the upsert


@dataclass
class _Upsert:
    """`INSERT … ON CONFLICT (stripe_id) DO UPDATE SET … WHERE <the snapshot is newer>`, built
    once per model. Works on PostgreSQL and on SQLite (the embedded default)."""

    model: type[Model]
    ranks: dict[str, int]
    # columns that only grow: at the same Stripe second, a snapshot may not shrink them
    growing: tuple[str, ...]
    columns: tuple[str, ...]
    # column → its VALUES entry, given the quoting function (default "%s")
    value_sql: dict[str, Callable[[Callable[[str], str]], str]]
    # column → SQL of its new value on conflict (default `excluded.<column>`); None keeps it
    update_sql: dict[str, str | None]
    # (quote, row) → SQL of a condition under which the row ranks FRESH_RANK
    fresh_sql: Callable[[Callable[[str], str], str], str] | None = None

    def sql(self) -> str:
        # Built on each call, not cached: a few string joins, beside a database round trip.
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(name) for name in self.columns)
        values = ", ".join(
            self.value_sql[name](quote) if name in self.value_sql else "%s" for name in self.columns
        )
        sets = []
        for name in self.columns:
            expression = self.update_sql.get(name, f"excluded.{quote(name)}")
            if expression is not None:
                sets.append(f"{quote(name)} = {expression.format(table=table, column=quote(name))}")

        def rank(of: str) -> str:
            fresh = f"WHEN {self.fresh_sql(quote, of)} THEN {FRESH_RANK} " if self.fresh_sql else ""
            cases = " ".join(
                f"WHEN {of}.{quote('status')} = '{status}' THEN {value}"
                for status, value in self.ranks.items()
            )
            return f"(CASE {fresh}{cases} ELSE -1 END)"

        old, new = rank(table), rank("excluded")  # pragma: no mutate: SQL names ignore case
        status_at = quote("status_at")
        at_least = (f"excluded.{quote(name)} >= {table}.{quote(name)}" for name in self.growing)
        kept = " AND ".join(at_least)  # pragma: no mutate: SQL keywords ignore case
        return (
            f"INSERT INTO {table} ({columns}) VALUES ({values}) "  # noqa: S608 (names from _meta)
            f"ON CONFLICT ({quote('stripe_id')}) DO UPDATE SET {', '.join(sets)} "
            f"WHERE {old} < {new} OR ({old} = {new} AND ({table}.{status_at} < excluded.{status_at} "
            f"OR ({table}.{status_at} = excluded.{status_at} AND {kept}))) "
            f"RETURNING {quote('id')}"
        )

    def run(self, values: dict[str, Any]) -> int | None:
        """The row's id when this snapshot was applied, None when the row holds a newer one."""
        ops = connection.ops
        params = []
        for name in self.columns:
            value = values[name]
            if isinstance(value, datetime):
                value = ops.adapt_datetimefield_value(value)
            params.append(value)
        with connection.cursor() as cursor:
            cursor.execute(self.sql(), params)
            row = cursor.fetchone()
        return int(row[0]) if row else None


# A text column's new value on conflict: an empty one (not known to this snapshot) keeps the old.
_KEEP_IF_EMPTY = "CASE WHEN excluded.{column} = '' THEN {table}.{column} ELSE excluded.{column} END"


_PAYMENT_INTENT_COLUMNS = (
    "stripe_id",
    "livemode",
    "stripe_created",
    "synced_at",
    "order_id",
    "customer_id",
    "status",
    "status_at",
    "amount",
    "amount_received",
    "currency",
    "capture_method",
    "latest_charge_id",
    "last_error_code",
    "last_error_decline_code",
    "last_error_message",
    "idempotency_key",
    "created_at",
    "updated_at",
)


def _fresh_payment_intent(quote: Callable[[str], str], row: str) -> str:
    statuses = (PaymentIntent.Status.REQUIRES_PAYMENT_METHOD, PaymentIntent.Status.REQUIRES_CONFIRMATION)
    return (
        f"{row}.{quote('status')} IN ('{statuses[0]}', '{statuses[1]}') "
        f"AND {row}.{quote('latest_charge_id')} = '' "
        f"AND {row}.{quote('last_error_code')} = '' AND {row}.{quote('last_error_message')} = ''"
    )


_payment_intent_upsert = _Upsert(
    model=PaymentIntent,
    ranks=PAYMENT_INTENT_STATUS_RANK,
    growing=("amount_received",),
    fresh_sql=_fresh_payment_intent,
    columns=_PAYMENT_INTENT_COLUMNS,
    value_sql={},
    update_sql={
        "stripe_id": None,
        "created_at": None,
        # What a snapshot may not know (no order matched it, an id not expanded) is kept.
        "order_id": "COALESCE(excluded.{column}, {table}.{column})",
        "customer_id": _KEEP_IF_EMPTY,
        "idempotency_key": _KEEP_IF_EMPTY,
        "stripe_created": "COALESCE(excluded.{column}, {table}.{column})",
    },
)

_CHARGE_COLUMNS = (
    "stripe_id",
    "livemode",
    "stripe_created",
    "synced_at",
    "payment_intent_id",
    "payment_intent_stripe_id",
    "order_id",
    "status",
    "status_at",
    "paid",
    "captured",
    "amount",
    "amount_captured",
    "amount_refunded",
    "currency",
    "refunded",
    "disputed",
    "balance_transaction_id",
    "failure_code",
    "failure_message",
    "payment_method_id",
    "outcome_network_status",
    "outcome_reason",
    "outcome_risk_level",
    "outcome_type",
    "card_brand",
    "card_last4",
    "card_exp_month",
    "card_exp_year",
    "card_country",
    "card_funding",
    "card_fingerprint",
    "three_d_secure_result",
    "three_d_secure_result_reason",
    "three_d_secure_authentication_flow",
    "three_d_secure_version",
    "three_d_secure_electronic_commerce_indicator",
    "created_at",
    "updated_at",
)


def _payment_intent_pk(quote: Callable[[str], str]) -> str:
    """The PaymentIntent mirror's id, when we have it, found in the charge's own statement."""
    table = quote(PaymentIntent._meta.db_table)
    return f"(SELECT {quote('id')} FROM {table} WHERE {quote('stripe_id')} = %s)"  # noqa: S608


_charge_upsert = _Upsert(
    model=Charge,
    ranks=CHARGE_STATUS_RANK,
    growing=("amount_refunded", "disputed", "captured"),
    columns=_CHARGE_COLUMNS,
    value_sql={"payment_intent_id": _payment_intent_pk},
    update_sql={
        "stripe_id": None,
        "created_at": None,
        "payment_intent_id": "COALESCE(excluded.{column}, {table}.{column})",
        "payment_intent_stripe_id": _KEEP_IF_EMPTY,
        "order_id": "COALESCE(excluded.{column}, {table}.{column})",
        "balance_transaction_id": _KEEP_IF_EMPTY,
        "stripe_created": "COALESCE(excluded.{column}, {table}.{column})",
    },
)


# ---------------------------------------------------------------------------- services


def payment_intent_sync(
    *, obj: JsonDict, source: str, order: Order | None = None, seen_at: int | None = None
) -> bool:
    """Upsert the PaymentIntent mirror from a snapshot (an event's object, or one we fetched:
    `seen_at` None means "just fetched", i.e. now), linked to `order` when given. Never moves it
    backwards: returns whether this snapshot was applied (False: the mirror already holds a
    newer one). An expanded `latest_charge` is synced too. Raises SnapshotInvalid for an
    incomplete snapshot."""
    object_id, status = _checked(
        obj, kind="payment_intent", prefixes=("pi_",), ranks=PAYMENT_INTENT_STATUS_RANK
    )
    seen_at = _now_seconds() if seen_at is None else seen_at
    error = _dict(obj.get("last_payment_error"))
    key = ""
    # Our key created this PaymentIntent unless Stripe Checkout did (its session's own key).
    if (
        order is not None
        and not order.checkout_session_id
        and order.payment_intent_id in (None, "", object_id)
    ):
        key = order.payment_intent_idempotency_key
    now = timezone.now()
    values = {
        "stripe_id": object_id,
        "livemode": bool(obj.get("livemode")),
        "stripe_created": time_of(obj.get("created")),
        "synced_at": now,
        "order_id": order.pk if order is not None else None,
        "customer_id": _text(id_of(obj.get("customer")), 255),
        "status": status,
        "status_at": seen_at,
        "amount": obj["amount"],
        "amount_received": max(_int(obj.get("amount_received")), 0),
        "currency": str(obj["currency"]).lower(),
        "capture_method": _text(obj.get("capture_method"), 32),
        "latest_charge_id": _text(id_of(obj.get("latest_charge")), 255),
        "last_error_code": _text(error.get("code"), 64),
        "last_error_decline_code": _text(error.get("decline_code"), 64),
        "last_error_message": _text(error.get("message"), 5000),
        "idempotency_key": key,  # ours: `order:<pk>:payment-intent:v1`
        "created_at": now,
        "updated_at": now,
    }
    pk = _payment_intent_upsert.run(values)
    # Charges stored before their PaymentIntent (charge.succeeded often arrives first) wait for
    # it by id: link them now.
    waiting = Charge.objects.filter(payment_intent_stripe_id=object_id)
    mirror = PaymentIntent.objects.filter(stripe_id=object_id).values("pk")  # one row: the id is unique
    unlinked = waiting.filter(payment_intent__isnull=True)  # pragma: no mutate: the rest point at it already
    unlinked.update(payment_intent=Subquery(mirror))
    latest = obj.get("latest_charge")
    if isinstance(latest, dict) and latest.get("object") == "charge":
        mirror_sync(obj=latest, source=source, order=order, seen_at=seen_at)
    if pk is None:  # pragma: no mutate: it only picks a debug line
        logger.debug("payment intent mirror kept newer state id=%s source=%s", object_id, source)
    return pk is not None


def charge_sync(
    *, obj: JsonDict, source: str, order: Order | None = None, seen_at: int | None = None
) -> bool:
    """Upsert one charge attempt's mirror from a snapshot, as `payment_intent_sync` does for
    PaymentIntents: forward-only, linked to its PaymentIntent mirror when we have it (or as
    soon as we do) and to its order. Card details are the non-sensitive ones; billing details
    are never copied (personal data stays on the order)."""
    object_id, status = _checked(obj, kind="charge", prefixes=("ch_", "py_"), ranks=CHARGE_STATUS_RANK)
    seen_at = _now_seconds() if seen_at is None else seen_at
    outcome = _dict(obj.get("outcome"))
    card = _dict(_dict(obj.get("payment_method_details")).get("card"))
    three_ds = _dict(card.get("three_d_secure"))  # null when the charge had no 3-D Secure
    payment_intent_id = _text(id_of(obj.get("payment_intent")), 255)
    now = timezone.now()
    values = {
        "stripe_id": object_id,
        "livemode": bool(obj.get("livemode")),
        "stripe_created": time_of(obj.get("created")),
        "synced_at": now,
        "payment_intent_id": payment_intent_id,  # the subquery's parameter
        "payment_intent_stripe_id": payment_intent_id,
        "order_id": order.pk if order is not None else None,
        "status": status,
        "status_at": seen_at,
        "paid": bool(obj.get("paid")),
        "captured": bool(obj.get("captured")),
        "amount": obj["amount"],
        "amount_captured": max(_int(obj.get("amount_captured")), 0),
        "amount_refunded": max(_int(obj.get("amount_refunded")), 0),
        "currency": str(obj["currency"]).lower(),
        "refunded": bool(obj.get("refunded")),
        "disputed": bool(obj.get("disputed")),
        "balance_transaction_id": _text(id_of(obj.get("balance_transaction")), 255),
        "failure_code": _text(obj.get("failure_code"), 64),
        "failure_message": _text(obj.get("failure_message"), 5000),
        "payment_method_id": _text(id_of(obj.get("payment_method")), 255),
        "outcome_network_status": _text(outcome.get("network_status"), 64),
        "outcome_reason": _text(outcome.get("reason"), 64),
        "outcome_risk_level": _text(outcome.get("risk_level"), 32),
        "outcome_type": _text(outcome.get("type"), 64),
        "card_brand": _text(card.get("brand"), 32),
        "card_last4": _text(card.get("last4"), 4),
        "card_exp_month": _small_int(card.get("exp_month")),
        "card_exp_year": _small_int(card.get("exp_year")),
        "card_country": _text(card.get("country"), 2),
        "card_funding": _text(card.get("funding"), 16),
        "card_fingerprint": _text(card.get("fingerprint"), 64),
        "three_d_secure_result": _text(three_ds.get("result"), 64),
        "three_d_secure_result_reason": _text(three_ds.get("result_reason"), 64),
        "three_d_secure_authentication_flow": _text(three_ds.get("authentication_flow"), 32),
        "three_d_secure_version": _text(three_ds.get("version"), 16),
        "three_d_secure_electronic_commerce_indicator": _text(
            three_ds.get("electronic_commerce_indicator"), 4
        ),
        "created_at": now,
        "updated_at": now,
    }
    pk = _charge_upsert.run(values)
    if pk is None:  # pragma: no mutate: it only picks a debug line
        logger.debug("charge mirror kept newer state id=%s source=%s", object_id, source)
    return pk is not None


def mirror_sync(
    *, obj: JsonDict, source: str, order: Order | None = None, seen_at: int | None = None
) -> None:
    """Sync a PaymentIntent or Charge snapshot into its mirror; other objects are not mirrored
    here. An incomplete snapshot is logged and skipped: the order's own state change still runs
    (a mirror never blocks a payment from being applied)."""
    kind = obj.get("object")
    try:
        if kind == "payment_intent":
            payment_intent_sync(obj=obj, source=source, order=order, seen_at=seen_at)
        elif kind == "charge":
            charge_sync(obj=obj, source=source, order=order, seen_at=seen_at)
    except SnapshotInvalid as error:
        logger.warning("mirror not synced source=%s: %s", source, error)
