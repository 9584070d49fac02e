"""What the customer is told about an order: its outcome on the order page and the status API,
and a human message per decline code (never the raw code alone). Reads only: nothing here
changes an order."""

from __future__ import annotations

from dataclasses import dataclass

from config.money import format_money
from orders.models import Order
from orders.services import THREE_DS_FAILURE_CODE

# Per decline code (`decline_code`, else the error `code`). Lost and stolen cards read as a plain
# decline: never tell a fraudster the card is flagged.
MESSAGE_DECLINED = "Your card was declined. Try another card, or contact your bank."
DECLINE_MESSAGES: dict[str, str] = {
    "generic_decline": MESSAGE_DECLINED,
    "card_declined": MESSAGE_DECLINED,
    "do_not_honor": MESSAGE_DECLINED,
    "lost_card": MESSAGE_DECLINED,
    "stolen_card": MESSAGE_DECLINED,
    "pickup_card": MESSAGE_DECLINED,
    "fraudulent": MESSAGE_DECLINED,
    "merchant_blacklist": MESSAGE_DECLINED,
    "fraud": MESSAGE_DECLINED,
    "insufficient_funds": "Your card has insufficient funds. Try another card.",
    "card_velocity_exceeded": "Your card has reached its spending limit. Try another card.",
    "expired_card": "Your card has expired. Check the expiry date or try another card.",
    "incorrect_cvc": "Your card's security code (CVC) is incorrect. Check it and try again.",
    "invalid_cvc": "Your card's security code (CVC) is incorrect. Check it and try again.",
    "incorrect_number": "Your card number is incorrect. Check it and try again.",
    "invalid_number": "Your card number is incorrect. Check it and try again.",
    "processing_error": "An error occurred while processing your card. Try again in a moment.",
    "authentication_required": "Your bank needs you to confirm this payment. Try again.",
    THREE_DS_FAILURE_CODE: (
        "We couldn't confirm it was you: the card's security check (3-D Secure) did not succeed. "
        "Nothing was charged. Try again, or use another card."
    ),
}


@dataclass(frozen=True)
class Outcome:
    """What the customer is told about an order: one of `paid`, `processing`, `requires_action`,
    `awaiting`, `declined`, `authentication_failed`, `canceled`, `expired`, `refunded`,
    `disputed`. `final` means the state will not change without the customer or staff acting
    (the return page stops polling)."""

    kind: str
    title: str
    message: str
    final: bool
    can_pay: bool = False


def decline_message(code: str) -> str:
    return DECLINE_MESSAGES.get(code, MESSAGE_DECLINED)


def order_outcome(*, order: Order) -> Outcome:
    status = order.status
    amount = format_money(order.amount, order.currency)
    if status in (Order.Status.PAID, Order.Status.FULFILLED):
        return Outcome(
            "paid",
            "Thank you: your payment went through",
            f"We received {amount} for order {order.number}. A confirmation email is on its way.",
            final=True,
        )
    if status == Order.Status.PAYMENT_FAILED:
        code = order.last_decline_code
        kind = "authentication_failed" if code == THREE_DS_FAILURE_CODE else "declined"
        title = "Authentication failed" if kind == "authentication_failed" else "Your payment was declined"
        return Outcome(kind, title, decline_message(code), final=True, can_pay=True)
    if status == Order.Status.CANCELED:
        if order.checkout_session_id:
            return Outcome(
                "expired",
                "This payment session expired",
                "The payment page expired before a payment was made. Nothing was charged; your "
                "cart is still here if you want to start again.",
                final=True,
            )
        return Outcome(
            "canceled", "This order was canceled", "Nothing was charged for this order.", final=True
        )
    if status in (Order.Status.REFUNDED, Order.Status.PARTIALLY_REFUNDED):
        refunded = format_money(order.amount_refunded, order.currency)
        return Outcome("refunded", "Refunded", f"We refunded {refunded} of {amount}.", final=True)
    if status == Order.Status.DISPUTED:
        return Outcome("disputed", "Payment disputed", "This payment is disputed with your bank.", final=True)
    if order.payment_intent_status == "processing":
        return Outcome(
            "processing",
            "Your payment is processing",
            "Your bank is processing the payment. This page updates when it is done, and we email you "
            "once it is paid.",
            final=False,
        )
    if order.payment_intent_status == "requires_action":
        return Outcome(
            "requires_action",
            "Waiting for your bank",
            "Your bank asked you to confirm the payment. Finish the check in the window your bank "
            "opened, or try again.",
            final=False,
            can_pay=True,
        )
    return Outcome(
        "awaiting",
        "Awaiting payment",
        f"Order {order.number} for {amount} is not paid yet.",
        final=False,
        can_pay=True,
    )
