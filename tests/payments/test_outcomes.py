"""What the customer reads about an order: a human sentence per outcome, never a raw code."""

from __future__ import annotations

import pytest

from orders.models import Order
from payments.outcomes import DECLINE_MESSAGES, MESSAGE_DECLINED, decline_message, order_outcome
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("code", [*DECLINE_MESSAGES, "some_code_stripe_adds_later", ""])
def test_every_decline_code_reads_as_a_sentence_without_the_code(code: str) -> None:
    message = decline_message(code)
    assert message.endswith(".")
    assert "_" not in message


@pytest.mark.parametrize("code", ["lost_card", "stolen_card", "fraudulent", "pickup_card"])
def test_a_flagged_card_reads_as_a_plain_decline(code: str) -> None:
    # a fraudster is never told the card is known to be stolen
    assert decline_message(code) == MESSAGE_DECLINED


@pytest.mark.parametrize(
    ("status", "fields", "kind", "final", "can_pay"),
    [
        (Order.Status.AWAITING_PAYMENT, {}, "awaiting", False, True),
        (Order.Status.AWAITING_PAYMENT, {"payment_intent_status": "processing"}, "processing", False, False),
        (
            Order.Status.AWAITING_PAYMENT,
            {"payment_intent_status": "requires_action"},
            "requires_action",
            False,
            True,
        ),
        (Order.Status.PAYMENT_FAILED, {"last_decline_code": "insufficient_funds"}, "declined", True, True),
        (
            Order.Status.PAYMENT_FAILED,
            {"last_decline_code": "payment_intent_authentication_failure"},
            "authentication_failed",
            True,
            True,
        ),
        (Order.Status.PAID, {}, "paid", True, False),
        (Order.Status.FULFILLED, {}, "paid", True, False),
        (Order.Status.CANCELED, {}, "canceled", True, False),
        (Order.Status.CANCELED, {"checkout_session_id": "cs_test_1"}, "expired", True, False),
        (Order.Status.PARTIALLY_REFUNDED, {"amount_refunded": 1000}, "refunded", True, False),
        (Order.Status.DISPUTED, {}, "disputed", True, False),
    ],
)
def test_each_order_state_has_its_outcome(
    status: str, fields: dict[str, object], kind: str, final: bool, can_pay: bool
) -> None:
    outcome = order_outcome(order=OrderFactory(status=status, **fields))
    assert (outcome.kind, outcome.final, outcome.can_pay) == (kind, final, can_pay)
    assert outcome.title and outcome.message
    assert "_" not in outcome.message


def test_amounts_are_shown_in_the_currencys_own_decimals() -> None:
    assert "¥4,200" in order_outcome(order=OrderFactory(status=Order.Status.PAID, currency="jpy")).message
    assert "KWD 4.200" in order_outcome(order=OrderFactory(status=Order.Status.PAID, currency="kwd")).message
