"""Dispute evidence assembled from the order as it was at checkout, and Stripe's limits on it.

The fields are keyed as Stripe names them in `POST /v1/disputes/{id}` `evidence[...]`
(stripe-facts.md §8; maxLength from spec3.json). Everything here is pure: the Stripe calls
(the receipt upload, staging) are in `disputes.services`.

The evidence holds personal data by nature. It goes to Stripe and to Finance staff only: the
error messages here name fields and counts, never values.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.money import format_money
from disputes.liability import LiabilityShift, liability_shift_assess
from disputes.receipt import receipt_pdf
from orders.models import Order
from payments.models import Charge

# Text fields and their maximum length (spec3.json, DisputeUpdate evidence).
TEXT_FIELDS: dict[str, int] = {
    "access_activity_log": 20000,
    "billing_address": 5000,
    "cancellation_policy_disclosure": 20000,
    "cancellation_rebuttal": 20000,
    "customer_email_address": 5000,
    "customer_name": 5000,
    "customer_purchase_ip": 5000,
    "duplicate_charge_explanation": 20000,
    "duplicate_charge_id": 5000,
    "product_description": 20000,
    "refund_policy_disclosure": 20000,
    "refund_refusal_explanation": 20000,
    "service_date": 5000,
    "shipping_address": 5000,
    "shipping_carrier": 5000,
    "shipping_date": 5000,
    "shipping_tracking_number": 5000,
    "uncategorized_text": 20000,
}
# File fields: ids of files uploaded with purpose=dispute_evidence.
FILE_FIELDS = (
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
)
ALL_FIELDS = (*TEXT_FIELDS, *FILE_FIELDS)
# "The combined character count of all fields is limited to 150,000" (spec3.json).
MAX_TOTAL_CHARACTERS = 150_000

ERROR_FIELD_TOO_LONG = (
    "The evidence field {field} has {length} characters and Stripe accepts at most {limit}: "
    "shorten it. Nothing was sent to Stripe."
)
ERROR_TOTAL_TOO_LONG = (
    "The evidence has {length} characters in all and Stripe accepts at most {limit}: shorten "
    "the longest fields. Nothing was sent to Stripe."
)
ERROR_FILE_TOO_LARGE = (
    "The evidence file {field} is {size} bytes and Stripe accepts at most {limit}. "
    "Nothing was sent to Stripe."
)
ERROR_UNKNOWN_FIELD = "Stripe has no evidence field named {field}. Nothing was sent to Stripe."

RECEIPT_FILENAME = "receipt-{number}.pdf"
RECEIPT_CONTENT_TYPE = "application/pdf"


def evidence_problems(fields: dict[str, Any]) -> list[str]:
    """Why Stripe would refuse these evidence fields (empty when it would not)."""
    problems: list[str] = []
    total = 0
    for name, value in fields.items():
        if name not in TEXT_FIELDS and name not in FILE_FIELDS:
            problems.append(ERROR_UNKNOWN_FIELD.format(field=name))
            continue
        length = len(str(value or ""))
        total += length
        limit = TEXT_FIELDS.get(name)
        if limit is not None and length > limit:
            problems.append(ERROR_FIELD_TOO_LONG.format(field=name, length=length, limit=limit))
    if total > MAX_TOTAL_CHARACTERS:
        problems.append(ERROR_TOTAL_TOO_LONG.format(length=total, limit=MAX_TOTAL_CHARACTERS))
    return problems


def file_problems(*, field: str, content: bytes) -> list[str]:
    limit = settings.DISPUTE_EVIDENCE_MAX_FILE_BYTES
    if len(content) > limit:
        return [ERROR_FILE_TOO_LARGE.format(field=field, size=len(content), limit=limit)]
    return []


def address_text(address: dict[str, Any] | None) -> str:
    """A Stripe address hash as the lines of a letter."""
    if not address:
        return ""
    parts = [
        address.get("line1"),
        address.get("line2"),
        " ".join(str(p) for p in (address.get("postal_code"), address.get("city")) if p),
        address.get("state"),
        address.get("country"),
    ]
    return "\n".join(str(part) for part in parts if part)


def _utc(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def product_description(order: Order) -> str:
    lines = [
        f"{item.quantity} × {item.product_name}"
        + (f" ({item.sku})" if item.sku else "")
        + f", {format_money(item.line_total, item.currency)}"
        for item in order.items.all().order_by("pk")
    ]
    lines.append(f"Total {format_money(order.amount, order.currency)}, order {order.number}.")
    return "\n".join(lines)


def liability_for(*, charge: Charge | None, dispute_reason: str) -> LiabilityShift:
    if charge is None:
        return LiabilityShift(False, "unknown", "Unknown: the charge has not been mirrored yet.")
    return liability_shift_assess(
        result=charge.three_d_secure_result,
        result_reason=charge.three_d_secure_result_reason,
        authentication_flow=charge.three_d_secure_authentication_flow,
        version=charge.three_d_secure_version,
        electronic_commerce_indicator=charge.three_d_secure_electronic_commerce_indicator,
        card_brand=charge.card_brand,
        dispute_reason=dispute_reason,
    )


def evidence_text_fields(
    *, order: Order, charge: Charge | None, dispute_reason: str
) -> tuple[dict[str, str], LiabilityShift]:
    """The text evidence from the order as the customer gave it at checkout."""
    liability = liability_for(charge=charge, dispute_reason=dispute_reason)
    fields: dict[str, str] = {
        "customer_email_address": order.email,
        "customer_name": order.name,
        "billing_address": address_text(order.billing_address),
        "shipping_address": address_text(order.shipping_address),
        "customer_purchase_ip": order.customer_ip or "",
        "product_description": product_description(order),
        "refund_policy_disclosure": settings.DISPUTE_REFUND_POLICY_DISCLOSURE,
        "cancellation_policy_disclosure": settings.DISPUTE_CANCELLATION_POLICY_DISCLOSURE,
    }
    # Where the order has them (a shop that ships keeps them on the order).
    for field, attribute in (
        ("shipping_carrier", "shipping_carrier"),
        ("shipping_tracking_number", "shipping_tracking_number"),
        ("shipping_date", "shipped_at"),
        ("service_date", "service_date"),
    ):
        value = getattr(order, attribute, None)
        if value:
            fields[field] = value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)
    activity = [f"Order {order.number} placed {_utc(order.created_at)}"]
    if order.customer_ip:
        activity.append(f"from IP address {order.customer_ip}")
    if order.user_agent:
        activity.append(f"with the browser {order.user_agent}")
    fields["access_activity_log"] = " ".join(activity) + "."
    story = [
        f"Order {order.number}, {format_money(order.amount, order.currency)}, "
        f"paid {_utc(order.paid_at) or 'by card'}"
        + (f" (charge {charge.stripe_id})" if charge else "")
        + ".",
    ]
    if order.fulfilled_at:
        story.append(f"The order was fulfilled on {_utc(order.fulfilled_at)}.")
    if order.confirmation_sent_at:
        story.append(
            "The order confirmation email was sent to the customer's address on "
            f"{_utc(order.confirmation_sent_at)}."
        )
    story.append(liability.explanation)
    story.append(f"Refund policy: {settings.DISPUTE_REFUND_POLICY}")
    story.append(f"Cancellation policy: {settings.DISPUTE_CANCELLATION_POLICY}")
    fields["uncategorized_text"] = "\n".join(story)
    return {name: value for name, value in fields.items() if value}, liability


def receipt_lines(*, order: Order, charge: Charge | None) -> list[str]:
    """The receipt as the customer would have read it, plus the policies they agreed to."""
    lines = [
        f"{settings.DISPUTE_SHOP_NAME}: receipt for order {order.number}",
        "",
        f"Placed: {_utc(order.created_at)}",
        f"Paid: {_utc(order.paid_at)}" if order.paid_at else "Paid: by card",
        f"Customer: {order.name} <{order.email}>",
        "",
        "Billing address:",
        *address_text(order.billing_address).splitlines(),
        "",
        "Shipping address:",
        *(address_text(order.shipping_address) or "(none)").splitlines(),
        "",
        "Items:",
        *product_description(order).splitlines(),
    ]
    if charge is not None:
        card = f"{charge.card_brand} ending {charge.card_last4}" if charge.card_last4 else charge.card_brand
        lines += ["", f"Payment: {charge.stripe_id} {card}".rstrip()]
    lines += [
        "",
        "Refund policy:",
        settings.DISPUTE_REFUND_POLICY,
        "",
        "Cancellation policy:",
        settings.DISPUTE_CANCELLATION_POLICY,
        "",
        settings.DISPUTE_REFUND_POLICY_DISCLOSURE,
    ]
    return lines


def receipt_file(*, order: Order, charge: Charge | None) -> tuple[str, bytes]:
    """The receipt's file name and PDF bytes (the same bytes for the same order)."""
    return RECEIPT_FILENAME.format(number=order.number), receipt_pdf(
        lines=receipt_lines(order=order, charge=charge)
    )
