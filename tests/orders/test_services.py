"""The order services called directly: what an order holds after creation, a revised cart, a
refund, a dispute and a Checkout Session, and what each call says it did."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from orders.models import Fulfillment, Order
from orders.services import (
    ItemInput,
    order_apply_charge,
    order_apply_checkout_session,
    order_apply_payment_intent,
    order_apply_refund_failed,
    order_apply_refunded_amount,
    order_create,
    order_fulfill,
    order_mark_disputed,
    order_revise,
)
from tests.factories import OrderFactory, OrderItemFactory, charge, payment_intent

pytestmark = pytest.mark.django_db

T0 = int(time.time()) - 100


def lines_of(order: Order) -> list[tuple[str, str, int, int, str]]:
    return [
        (item.product_name, item.sku, item.unit_amount, item.quantity, item.currency)
        for item in order.items.order_by("pk")
    ]


def test_order_create_prices_the_lines_from_the_catalog_and_stores_the_payment_intent_key() -> None:
    # when
    order = order_create(
        email="ada@example.com",
        name="Ada Lovelace",
        currency="GBP",
        items=[ItemInput("Poster", 1500, 2, sku="P-1"), ItemInput("Card", 300, 1)],
        billing_address={"country": "GB"},
        shipping_address={"country": "FR"},
        customer_ip="203.0.113.9",
        user_agent="x" * 1200,
        stripe_customer_id="cus_1",
    )
    # then
    order.refresh_from_db()
    assert (order.amount, order.currency, order.status) == (3300, "gbp", Order.Status.PENDING)
    assert (order.email, order.name, order.stripe_customer_id) == ("ada@example.com", "Ada Lovelace", "cus_1")
    assert (order.billing_address, order.shipping_address) == ({"country": "GB"}, {"country": "FR"})
    assert (order.customer_ip, order.user_agent) == ("203.0.113.9", "x" * 1000)
    assert order.payment_intent_idempotency_key == f"order:{order.pk}:payment-intent:v1"
    assert lines_of(order) == [("Poster", "P-1", 1500, 2, "gbp"), ("Card", "", 300, 1, "gbp")]


def test_order_create_without_addresses_keeps_empty_ones() -> None:
    order = order_create(email="a@example.com", name="A", currency="eur", items=[ItemInput("Card", 300, 1)])
    order.refresh_from_db()
    assert (order.billing_address, order.shipping_address, order.user_agent) == ({}, {}, "")
    assert (order.customer_ip, order.stripe_customer_id) == (None, "")


def test_order_revise_replaces_the_lines_and_details_of_an_open_order() -> None:
    order = OrderFactory(status=Order.Status.PAYMENT_FAILED)
    OrderItemFactory(order=order)
    revised = order_revise(
        order=order,
        email="new@example.com",
        name="Grace Hopper",
        items=[ItemInput("Card", 300, 3, sku="C-1")],
        billing_address={"country": "US"},
        shipping_address={"country": "CA"},
    )
    assert revised is not None
    order.refresh_from_db()
    assert (order.email, order.name, order.amount, order.currency) == (
        "new@example.com",
        "Grace Hopper",
        900,
        "gbp",
    )
    assert (order.billing_address, order.shipping_address) == ({"country": "US"}, {"country": "CA"})
    assert lines_of(order) == [("Card", "C-1", 300, 3, "gbp")]
    order_revise(order=order, email="new@example.com", name="Grace Hopper", items=[ItemInput("Card", 300, 1)])
    order.refresh_from_db()
    assert (order.billing_address, order.shipping_address, order.amount) == ({}, {}, 300)


def test_order_revise_leaves_a_paid_order_alone() -> None:
    order = OrderFactory(status=Order.Status.PAID)
    OrderItemFactory(order=order)
    assert order_revise(order=order, email="x@example.com", name="X", items=[ItemInput("Card", 1, 1)]) is None
    order.refresh_from_db()
    assert (order.amount, order.name, len(lines_of(order))) == (4200, "Ada Lovelace", 1)


def test_refunded_amounts_only_grow_and_a_full_refund_is_refunded() -> None:
    order = OrderFactory(status=Order.Status.FULFILLED, amount=4200)
    first = order_apply_refunded_amount(order=order, amount_refunded=1000)
    assert (first.changed, first.fulfilled, first.order.status) == (True, False, "partially_refunded")
    again = order_apply_refunded_amount(order=order, amount_refunded=1000)
    assert (again.changed, again.fulfilled, again.order.amount_refunded) == (False, False, 1000)
    assert order_apply_refunded_amount(order=order, amount_refunded=500).changed is False
    full = order_apply_refunded_amount(order=order, amount_refunded=4200)
    assert (full.changed, full.order.status) == (True, Order.Status.REFUNDED)
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 4200)


@pytest.mark.parametrize(
    ("held", "fulfilled", "refunded", "failed", "expected"),
    [
        # a refunded order with nothing refunded any more is fulfilled again, or paid if never fulfilled
        (Order.Status.REFUNDED, True, 4200, 4200, (Order.Status.FULFILLED, 0)),
        (Order.Status.REFUNDED, False, 4200, 4200, (Order.Status.PAID, 0)),
        (Order.Status.REFUNDED, True, 4200, 1000, (Order.Status.PARTIALLY_REFUNDED, 3200)),
        (Order.Status.PARTIALLY_REFUNDED, True, 1000, 1000, (Order.Status.FULFILLED, 0)),
        # more than the order counts (a refund counted only by its charge's total) stops at nothing
        (Order.Status.PARTIALLY_REFUNDED, True, 1000, 1500, (Order.Status.FULFILLED, 0)),
        # a disputed order stays disputed: the dispute decides it now
        (Order.Status.DISPUTED, True, 4200, 4200, (Order.Status.DISPUTED, 0)),
    ],
)
def test_a_refund_failed_after_succeeding_lowers_the_refunded_amount_and_status(
    held: str, fulfilled: bool, refunded: int, failed: int, expected: tuple[str, int]
) -> None:
    order = OrderFactory(status=held, amount=4200, amount_refunded=refunded)
    if fulfilled:
        Order.objects.filter(pk=order.pk).update(fulfilled_at=timezone.now())
    change = order_apply_refund_failed(order=order, amount=failed)
    assert (change.changed, change.fulfilled, (change.order.status, change.order.amount_refunded)) == (
        True,
        False,
        expected,
    )
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == expected


def test_a_failed_refund_of_nothing_changes_nothing() -> None:
    order = OrderFactory(status=Order.Status.FULFILLED, amount=4200)
    change = order_apply_refund_failed(order=order, amount=1000)
    assert (change.changed, change.order.status, change.order.amount_refunded) == (False, "fulfilled", 0)
    partly = OrderFactory(status=Order.Status.PARTIALLY_REFUNDED, amount=4200, amount_refunded=1000)
    updated = partly.updated_at
    assert order_apply_refund_failed(order=partly, amount=0).changed is False
    partly.refresh_from_db()
    assert (partly.status, partly.amount_refunded, partly.updated_at) == ("partially_refunded", 1000, updated)


def test_a_charge_snapshot_that_only_refunds_says_it_changed_the_order_and_once() -> None:
    order = OrderFactory(status=Order.Status.PAID, amount=4200, charge_id="ch_1")
    order_fulfill(order=order, source="", locked=False)  # paid and fulfilled before the refund
    refunded = {**charge(order, amount_refunded=1000), "id": "ch_1"}
    first = order_apply_charge(order=order, charge=refunded, seen_at=T0)
    assert (first.changed, first.fulfilled, first.order.amount_refunded) == (True, False, 1000)
    again = order_apply_charge(order=order, charge=refunded, seen_at=T0)
    assert (again.changed, again.fulfilled) == (False, False)
    unrefunded = order_apply_charge(order=order, charge={**refunded, "amount_refunded": 0}, seen_at=T0)
    assert unrefunded.changed is False  # a stale snapshot from before the refund: nothing to do


def test_marking_disputed_reads_the_order_as_stored_not_the_callers_copy() -> None:
    order = OrderFactory(status=Order.Status.FULFILLED, amount=4200)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED, amount_refunded=4200)
    change = order_mark_disputed(order=order)  # the caller's copy is from before the refund
    assert (change.order.status, change.order.amount_refunded) == (Order.Status.DISPUTED, 4200)


def test_a_dispute_outranks_a_refund_and_is_marked_once() -> None:
    order = OrderFactory(status=Order.Status.REFUNDED, amount_refunded=4200)
    first = order_mark_disputed(order=order)
    assert (first.changed, first.fulfilled, first.order.status) == (True, False, Order.Status.DISPUTED)
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED
    saves = order.history.count()
    assert order_mark_disputed(order=order).changed is False
    assert order.history.count() == saves  # nothing new in the order's history for staff


def session(
    order: Order, *, status: str = "complete", payment_status: str = "paid", **fields: object
) -> dict:
    return {
        "id": f"cs_for_{order.pk}",
        "object": "checkout.session",
        "status": status,
        "payment_status": payment_status,
        "payment_intent": order.payment_intent_id,
        "customer": "cus_123",
        **fields,
    }


def test_a_session_with_nothing_to_pay_fulfills_once_and_says_so() -> None:
    order = OrderFactory(payment_intent_id=None)
    first = order_apply_checkout_session(
        order=order, session=session(order, payment_status="no_payment_required"), seen_at=T0
    )
    assert (first.changed, first.fulfilled, first.order.status) == (True, True, Order.Status.FULFILLED)
    again = order_apply_checkout_session(order=order, session=session(order), seen_at=T0)
    assert (again.changed, again.fulfilled) == (False, False)
    assert Fulfillment.objects.get(order=order).source == ""


def test_a_session_keeps_the_order_s_first_session_and_customer() -> None:
    order = OrderFactory(checkout_session_id="cs_first", stripe_customer_id="cus_first")
    order_apply_checkout_session(order=order, session=session(order, payment_status="unpaid"), seen_at=T0)
    order.refresh_from_db()
    assert (order.checkout_session_id, order.stripe_customer_id) == ("cs_first", "cus_first")


def test_an_expired_session_cancels_with_a_time_and_a_failed_one_does_not() -> None:
    expired, failed = OrderFactory(), OrderFactory()
    change = order_apply_checkout_session(
        order=expired, session=session(expired, status="expired", payment_status="unpaid"), seen_at=T0
    )
    assert (change.changed, change.fulfilled, change.order.status) == (True, False, Order.Status.CANCELED)
    expired.refresh_from_db()
    assert expired.canceled_at is not None
    order_apply_checkout_session(
        order=failed,
        session=session(failed, payment_status="unpaid"),
        seen_at=T0 + 5,
        async_payment_failed=True,
    )
    failed.refresh_from_db()
    assert (failed.status, failed.canceled_at, failed.payment_state_at) == (
        Order.Status.PAYMENT_FAILED,
        None,
        T0 + 5,
    )


def test_an_older_decline_of_a_payment_intent_does_not_replace_the_newer_ones_code() -> None:
    order = OrderFactory()
    newer = {"code": "card_declined", "decline_code": "insufficient_funds"}
    older = {"code": "card_declined", "decline_code": "do_not_honor"}
    failed = {"status": "requires_payment_method"}
    order_apply_payment_intent(
        order=order, payment_intent=payment_intent(order, **failed, last_payment_error=newer), seen_at=T0 + 5
    )
    order_apply_payment_intent(
        order=order, payment_intent=payment_intent(order, **failed, last_payment_error=older), seen_at=T0
    )
    order.refresh_from_db()
    assert (order.status, order.last_decline_code, order.payment_state_at) == (
        Order.Status.PAYMENT_FAILED,
        "insufficient_funds",
        T0 + 5,
    )


def test_an_older_session_snapshot_does_not_undo_a_newer_failure() -> None:
    order = OrderFactory()
    order_apply_checkout_session(
        order=order,
        session=session(order, payment_status="unpaid"),
        seen_at=T0 + 5,
        async_payment_failed=True,
    )
    stale = order_apply_checkout_session(
        order=order, session=session(order, payment_status="unpaid"), seen_at=T0
    )
    assert (stale.changed, stale.fulfilled) == (False, False)
    order.refresh_from_db()
    assert (order.status, order.payment_state_at) == (Order.Status.PAYMENT_FAILED, T0 + 5)


def test_a_snapshot_applied_to_an_order_read_before_its_refund_does_not_undo_the_refund() -> None:
    # given: the return page read the order, then the refund was applied
    order = OrderFactory()
    read_earlier = Order.objects.get(pk=order.pk)
    order_apply_payment_intent(order=order, payment_intent=payment_intent(order), seen_at=T0)
    order_apply_refunded_amount(order=order, amount_refunded=4200)
    # when
    order_apply_payment_intent(order=read_earlier, payment_intent=payment_intent(order), seen_at=T0 + 1)
    order_apply_charge(order=read_earlier, charge=charge(order), seen_at=T0 + 1)
    order_apply_checkout_session(order=read_earlier, session=session(order), seen_at=T0 + 1)
    # then
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 4200)
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_an_unknown_payment_intent_status_is_refused_and_changes_nothing() -> None:
    order = OrderFactory()
    with pytest.raises(ValueError, match="unknown PaymentIntent status 'weird'"):
        order_apply_payment_intent(order=order, payment_intent=payment_intent(order, status="weird"))
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_succeeded_payment_intent_pays_fulfills_once_and_takes_its_charge_and_livemode() -> None:
    order = OrderFactory(charge_id="ch_declined", last_decline_code="card_declined")
    paid = payment_intent(order, latest_charge={"id": "ch_paid", "object": "charge"}, livemode=True)
    first = order_apply_payment_intent(order=order, payment_intent=paid, seen_at=T0, source="evt_paid")
    assert (first.changed, first.fulfilled) == (True, True)
    again = order_apply_payment_intent(order=order, payment_intent=paid, seen_at=T0)
    assert (again.changed, again.fulfilled) == (False, False)
    order.refresh_from_db()
    assert (order.status, order.payment_intent_status, order.payment_state_at) == (
        Order.Status.FULFILLED,
        "succeeded",
        T0,
    )
    assert (order.charge_id, order.livemode, order.last_decline_code) == ("ch_paid", True, "")
    assert order.paid_at is not None and order.fulfilled_at is not None
    assert Fulfillment.objects.get(order=order).source == "evt_paid"


def test_an_unpaid_payment_intent_keeps_the_first_attempt_s_charge() -> None:
    order = OrderFactory(payment_intent_id=None)
    intent = payment_intent(order, status="requires_payment_method", id="pi_new", latest_charge="ch_first")
    order_apply_payment_intent(order=order, payment_intent=intent, seen_at=T0)
    intent["latest_charge"] = "ch_second"
    order_apply_payment_intent(order=order, payment_intent=intent, seen_at=T0 + 1)
    order.refresh_from_db()
    assert (order.payment_intent_id, order.charge_id, order.livemode) == ("pi_new", "ch_first", False)


def failed_intent(order: Order, seen: dict) -> dict:
    return payment_intent(order, status="requires_payment_method", last_payment_error=seen)


def test_each_new_decline_is_a_change_with_its_code_and_time() -> None:
    order = OrderFactory()
    first = order_apply_payment_intent(
        order=order, payment_intent=failed_intent(order, {"code": "card_declined"}), seen_at=T0
    )
    assert (first.changed, first.fulfilled) == (True, False)
    order.refresh_from_db()
    assert (order.status, order.last_decline_code, order.payment_state_at) == (
        Order.Status.PAYMENT_FAILED,
        "card_declined",
        T0,
    )
    assert order.payment_intent_status == "requires_payment_method"
    same = order_apply_payment_intent(
        order=order, payment_intent=failed_intent(order, {"code": "card_declined"}), seen_at=T0 + 1
    )
    assert same.changed is False
    long_code = "x" * 80
    other = order_apply_payment_intent(
        order=order,
        payment_intent=failed_intent(order, {"code": "card_declined", "decline_code": long_code}),
        seen_at=T0 + 2,
    )
    assert other.changed is True
    order.refresh_from_db()
    assert (order.last_decline_code, order.payment_state_at) == ("x" * 64, T0 + 2)
    # A retry in progress keeps the last decline on the order for support.
    order_apply_payment_intent(
        order=order, payment_intent=payment_intent(order, status="requires_action"), seen_at=T0 + 3
    )
    order.refresh_from_db()
    assert (order.status, order.payment_intent_status, order.last_decline_code) == (
        Order.Status.AWAITING_PAYMENT,
        "requires_action",
        "x" * 64,
    )
    assert order.payment_state_at == T0 + 3


def test_a_decline_without_a_code_is_failed_with_no_code_for_support() -> None:
    # given a payment that failed with only a message (Stripe's api_error, say) after a decline
    order = OrderFactory(last_decline_code="card_declined")
    error = {"type": "api_error", "message": "Something went wrong."}
    order_apply_payment_intent(order=order, payment_intent=failed_intent(order, error), seen_at=T0)
    order.refresh_from_db()
    assert (order.status, order.last_decline_code) == (Order.Status.PAYMENT_FAILED, "")


def test_a_fresh_payment_intent_is_awaiting_payment_without_a_decline() -> None:
    order = OrderFactory(status=Order.Status.PENDING)
    change = order_apply_payment_intent(
        order=order, payment_intent=payment_intent(order, status="requires_payment_method"), seen_at=T0
    )
    assert change.changed is True
    order.refresh_from_db()
    assert (order.status, order.last_decline_code, order.canceled_at) == (
        Order.Status.AWAITING_PAYMENT,
        "",
        None,
    )


def test_a_canceled_payment_intent_cancels_the_order_once() -> None:
    order = OrderFactory()
    order_apply_payment_intent(
        order=order, payment_intent=payment_intent(order, status="canceled"), seen_at=T0
    )
    order.refresh_from_db()
    canceled_at = order.canceled_at
    assert order.status == Order.Status.CANCELED and canceled_at is not None
    again = order_apply_payment_intent(
        order=order, payment_intent=payment_intent(order, status="canceled"), seen_at=T0
    )
    assert again.changed is False
    order.refresh_from_db()
    assert order.canceled_at == canceled_at


def test_a_payment_intent_applied_with_no_source_names_none_and_one_without_a_status_is_refused() -> None:
    order = OrderFactory()
    order_apply_payment_intent(order=order, payment_intent=payment_intent(order), seen_at=T0)
    assert Fulfillment.objects.get(order=order).source == ""
    with pytest.raises(ValueError, match=r"^unknown PaymentIntent status ''$"):
        order_apply_payment_intent(order=order, payment_intent=payment_intent(order, status=None))


def test_a_succeeded_payment_intent_says_what_it_changed_and_links_only_an_id_it_has() -> None:
    # given an order a charge event has paid and fulfilled, which holds no PaymentIntent status yet
    order = OrderFactory(payment_intent_id=None)
    order_apply_charge(order=order, charge=charge(order, id="ch_paid", payment_intent=None), seen_at=T0)
    # when a PaymentIntent snapshot without an id comes, then another with its status
    bare = payment_intent(order, id=None, latest_charge="ch_paid")
    first = order_apply_payment_intent(order=order, payment_intent=bare, seen_at=T0 + 1)
    order.refresh_from_db()
    assert order.payment_intent_id is None  # nothing made up to link
    # then it changed the order (its PaymentIntent status) and fulfilled nothing again
    assert (first.changed, first.fulfilled) == (True, False)
    again = order_apply_payment_intent(order=order, payment_intent=bare, seen_at=T0 + 2)
    assert (again.changed, again.fulfilled) == (False, False)
    assert (order.status, order.payment_intent_status) == (Order.Status.FULFILLED, "succeeded")
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_a_succeeded_charge_without_a_paid_flag_pays_and_is_the_order_s_charge() -> None:
    order = OrderFactory(payment_intent_id=None)
    paid = charge(order, id="ch_paid", payment_intent={"id": "pi_expanded", "object": "payment_intent"})
    del paid["paid"]
    first = order_apply_charge(order=order, charge=paid)  # fetched from Stripe: no event time
    assert (first.changed, first.fulfilled) == (True, True)
    assert order_apply_charge(order=order, charge=paid).changed is False
    order.refresh_from_db()
    assert (order.status, order.charge_id, order.payment_intent_id) == (
        Order.Status.FULFILLED,
        "ch_paid",
        "pi_expanded",
    )
    assert Fulfillment.objects.get(order=order).source == ""


def test_a_succeeded_charge_that_is_not_paid_does_not_pay() -> None:
    order = OrderFactory()
    change = order_apply_charge(order=order, charge=charge(order, paid=False), seen_at=T0)
    assert (change.changed, change.fulfilled) == (False, False)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not Fulfillment.objects.filter(order=order).exists()


def test_a_failed_charge_records_the_issuer_s_reason_before_the_failure_code() -> None:
    order = OrderFactory()
    failed = charge(order, status="failed", outcome={"reason": "r" * 80})
    first = order_apply_charge(order=order, charge=failed, seen_at=T0)
    assert (first.changed, first.fulfilled) == (True, False)
    order.refresh_from_db()
    assert (order.status, order.last_decline_code, order.payment_state_at) == (
        Order.Status.PAYMENT_FAILED,
        "r" * 64,
        T0,
    )
    again = order_apply_charge(order=order, charge=charge(order, status="failed"), seen_at=T0 + 1)
    assert again.changed is True
    order.refresh_from_db()
    assert (order.last_decline_code, order.payment_state_at) == ("card_declined", T0 + 1)
    stale = order_apply_charge(order=order, charge=failed, seen_at=T0)
    assert stale.changed is False
    order.refresh_from_db()
    assert order.last_decline_code == "card_declined"


def test_a_failed_charge_without_a_code_keeps_the_last_one_and_links_the_payment_intent() -> None:
    # given an order declined before (insufficient funds), and one never declined, neither linked
    # to its PaymentIntent yet
    declined = OrderFactory(payment_intent_id=None, last_decline_code="insufficient_funds")
    fresh = OrderFactory(payment_intent_id=None)
    # when a newer charge of each fails with no reason or code (a processing error)
    for order, pi in ((declined, "pi_declined"), (fresh, "pi_fresh")):
        failed = charge(
            order, status="failed", failure_code=None, outcome={"type": "invalid"}, payment_intent=pi
        )
        assert order_apply_charge(order=order, charge=failed, seen_at=T0).changed is True
    # then both are failed, linked, and keep the code support last saw
    declined.refresh_from_db()
    fresh.refresh_from_db()
    assert (declined.status, declined.payment_intent_id, declined.last_decline_code) == (
        Order.Status.PAYMENT_FAILED,
        "pi_declined",
        "insufficient_funds",
    )
    assert (fresh.status, fresh.payment_intent_id, fresh.last_decline_code) == (
        Order.Status.PAYMENT_FAILED,
        "pi_fresh",
        "",
    )


def test_a_pending_charge_only_links_the_payment_intent() -> None:
    order = OrderFactory(payment_intent_id=None)
    change = order_apply_charge(
        order=order, charge=charge(order, status="pending", payment_intent="pi_p"), seen_at=T0
    )
    assert change.changed is False
    order.refresh_from_db()
    assert (order.status, order.payment_intent_id) == (Order.Status.AWAITING_PAYMENT, "pi_p")


def test_a_refunded_charge_refunds_the_order_and_says_so_once() -> None:
    order = OrderFactory(status=Order.Status.FULFILLED)
    first = order_apply_charge(order=order, charge=charge(order, amount_refunded=1200), seen_at=T0)
    assert first.changed is True
    assert first.order.amount_refunded == 1200
    again = order_apply_charge(order=order, charge=charge(order, amount_refunded=1200), seen_at=T0)
    assert (again.changed, again.fulfilled) == (False, False)
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1200)


def test_order_fulfill_fulfills_a_paid_order_once_and_keeps_where_it_came_from() -> None:
    order = OrderFactory(status=Order.Status.PAID)
    assert order_fulfill(order=order, source="s" * 300, locked=False) is True
    assert order_fulfill(order=order, source="evt_again", locked=False) is False
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.fulfilled_at is not None
    assert Fulfillment.objects.get(order=order).source == "s" * 255


def test_a_refund_applied_to_an_order_read_before_a_larger_one_does_not_shrink_it() -> None:
    order = OrderFactory(status=Order.Status.FULFILLED)
    read_earlier = Order.objects.get(pk=order.pk)
    order_apply_refunded_amount(order=order, amount_refunded=4200)
    assert order_apply_refunded_amount(order=read_earlier, amount_refunded=1000).changed is False
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 4200)
