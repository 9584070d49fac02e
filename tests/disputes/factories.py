"""Factories for the disputes tests: Charge mirror rows made directly (the Charge sync service
is built elsewhere), Stripe-shaped Dispute and early fraud warning objects (fixtures3.json's
examples, with our ids), and a fake of the gateway's dispute and file functions."""

from __future__ import annotations

import copy
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import factory

from orders.models import Order
from payments.models import Charge
from payments.stripe_gateway import InvalidRequest
from tests.factories import OrderFactory, OrderItemFactory

_seq = itertools.count(1)
NOW = int(time.time())
DAY = 86400

# fixtures3.json "dispute", as Stripe publishes it.
DISPUTE_FIXTURE: dict[str, Any] = {
    "amount": 1000,
    "balance_transactions": [],
    "charge": "ch_1PgafuB7WZ01zgkWXYmPNZs8",
    "created": 1234567890,
    "currency": "usd",
    "evidence": {
        name: None
        for name in [
            "access_activity_log",
            "billing_address",
            "cancellation_policy",
            "cancellation_policy_disclosure",
            "cancellation_rebuttal",
            "customer_communication",
            "customer_email_address",
            "customer_name",
            "customer_purchase_ip",
            "customer_signature",
            "duplicate_charge_documentation",
            "duplicate_charge_explanation",
            "duplicate_charge_id",
            "product_description",
            "receipt",
            "refund_policy",
            "refund_policy_disclosure",
            "refund_refusal_explanation",
            "service_date",
            "service_documentation",
            "shipping_address",
            "shipping_carrier",
            "shipping_date",
            "shipping_documentation",
            "shipping_tracking_number",
            "uncategorized_file",
            "uncategorized_text",
        ]
    }
    | {"enhanced_evidence": {}},
    "evidence_details": {
        "due_by": 1723679999,
        "has_evidence": False,
        "past_due": False,
        "submission_count": 0,
        "enhanced_eligibility": {},
    },
    "id": "dp_1Pgc71B7WZ01zgkWMevJiAUx",
    "is_charge_refundable": True,
    "livemode": False,
    "metadata": {},
    "object": "dispute",
    "payment_intent": None,
    "payment_method_details": {
        "card": {"brand": "visa", "case_type": "inquiry", "network_reason_code": "10.4", "network": "visa"},
        "type": "card",
    },
    "reason": "general",
    "status": "warning_needs_response",
    "enhanced_eligibility_types": ["visa_compelling_evidence_3"],
}

EFW_FIXTURE: dict[str, Any] = {
    "actionable": True,
    "charge": "ch_1234",
    "created": 1234567890,
    "fraud_type": "misc",
    "id": "issfr_1Pgc79B7WZ01zgkWxwDzEIPX",
    "livemode": False,
    "object": "radar.early_fraud_warning",
}


class ChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charge

    order = factory.SubFactory(OrderFactory)
    stripe_id = factory.LazyAttribute(lambda charge: f"ch_for_{charge.order.payment_intent_id}")
    status = Charge.Status.SUCCEEDED
    paid = True
    captured = True
    amount = factory.LazyAttribute(lambda charge: charge.order.amount)
    amount_captured = factory.LazyAttribute(lambda charge: charge.order.amount)
    currency = factory.LazyAttribute(lambda charge: charge.order.currency)
    card_brand = "visa"
    card_last4 = "3184"
    three_d_secure_result = "authenticated"
    three_d_secure_authentication_flow = "challenge"
    three_d_secure_version = "2.2.0"
    three_d_secure_electronic_commerce_indicator = "05"


def paid_order(**fields: Any) -> Order:
    """A paid, fulfilled order with one item, as the shop keeps it after checkout."""
    order = OrderFactory(status=Order.Status.FULFILLED, **fields)
    OrderItemFactory(order=order, unit_amount=order.amount, currency=order.currency)
    return order


def dispute_object(
    charge: Charge,
    *,
    status: str = "needs_response",
    reason: str = "fraudulent",
    due_in: int = 7 * DAY,
    dispute_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    obj = copy.deepcopy(DISPUTE_FIXTURE)
    obj.update(
        id=dispute_id or f"du_test{next(_seq):06d}",
        charge=charge.stripe_id,
        payment_intent=charge.order.payment_intent_id if charge.order else None,
        amount=charge.amount,
        currency=charge.currency,
        status=status,
        reason=reason,
        created=NOW - 60,
    )
    obj["payment_method_details"]["card"]["case_type"] = (
        "inquiry" if status.startswith("warning") else "chargeback"
    )
    obj["evidence_details"]["due_by"] = NOW + due_in if due_in else 0
    for key, value in fields.items():
        if key in obj["evidence_details"]:
            obj["evidence_details"][key] = value
        else:
            obj[key] = value
    return obj


def efw_object(charge: Charge, **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(EFW_FIXTURE)
    obj.update(id=f"issfr_test{next(_seq):06d}", charge=charge.stripe_id, created=NOW - 60, **fields)
    return obj


@dataclass
class FakeStripe:
    """Stands in for the gateway's dispute and file functions, as Stripe behaves: it honours
    idempotency keys (same key, same params → the first answer; other params → refused),
    stages with submit=false, takes one submission, closes."""

    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[Exception] = field(default_factory=list)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.disputes[obj["id"]] = copy.deepcopy(obj)
        return obj

    def _replay(self, key: str, params: Any) -> Any:
        if key in self.answers:
            first_params, answer = self.answers[key]
            if first_params != params:
                raise InvalidRequest(
                    "Stripe refused dispute.update: idempotency_error.", code="idempotency_error"
                )
            return copy.deepcopy(answer)
        return None

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def calls_of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    def dispute_update(
        self, *, dispute_id: str, params: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        self.calls.append(("dispute_update", {"dispute_id": dispute_id, "key": idempotency_key, **params}))
        self._maybe_fail()
        replay = self._replay(idempotency_key, params)
        if replay is not None:
            return replay  # type: ignore[no-any-return]
        dispute = self.disputes[dispute_id]
        if dispute["evidence_details"]["submission_count"] > 0 or dispute["status"] not in (
            "needs_response",
            "warning_needs_response",
        ):
            raise InvalidRequest(
                "Stripe refused dispute.update: dispute_already_submitted.", code="resource_missing"
            )
        dispute["evidence"].update(params.get("evidence") or {})
        dispute["evidence_details"]["has_evidence"] = True
        if params["submit"]:
            dispute["evidence_details"]["submission_count"] += 1
            dispute["status"] = (
                "under_review" if dispute["status"] == "needs_response" else "warning_under_review"
            )
        self.answers[idempotency_key] = (copy.deepcopy(params), copy.deepcopy(dispute))
        return copy.deepcopy(dispute)

    def dispute_close(self, *, dispute_id: str, idempotency_key: str) -> dict[str, Any]:
        self.calls.append(("dispute_close", {"dispute_id": dispute_id, "key": idempotency_key}))
        self._maybe_fail()
        replay = self._replay(idempotency_key, {})
        if replay is not None:
            return replay  # type: ignore[no-any-return]
        dispute = self.disputes[dispute_id]
        dispute["status"] = "lost" if dispute["status"] == "needs_response" else "warning_closed"
        self.answers[idempotency_key] = ({}, copy.deepcopy(dispute))
        return copy.deepcopy(dispute)

    def dispute_retrieve(self, *, dispute_id: str) -> dict[str, Any]:
        self.calls.append(("dispute_retrieve", {"dispute_id": dispute_id}))
        return copy.deepcopy(self.disputes[dispute_id])

    def file_create(
        self, *, purpose: str, filename: str, content: bytes, content_type: str, idempotency_key: str
    ) -> dict[str, Any]:
        params = {"purpose": purpose, "filename": filename, "content": content}
        self.calls.append(("file_create", {"key": idempotency_key, **params}))
        self._maybe_fail()
        if idempotency_key in self.files:
            return dict(self.files[idempotency_key])
        upload = {
            "id": f"file_test{next(_seq):06d}",
            "object": "file",
            "purpose": purpose,
            "filename": filename,
            "size": len(content),
            "type": "pdf",
            "created": NOW,
        }
        self.files[idempotency_key] = upload
        return dict(upload)
