"""Each handled event type, applied to an order through the handler table."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail

from orders.models import Fulfillment, Order
from payments import alerts, handlers
from payments.alerts import AlertKind
from payments.card_testing import Attempt
from payments.handlers import HANDLERS
from payments.models import Refund, StripeEvent
from payments.services.objects import NOTE_NO_ORDER
from tests.factories import OrderFactory, charge, event, payment_intent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("alert_emails")]

Process = Callable[..., StripeEvent]
T0 = int(time.time()) - 100


def declined(
    order: Order, code: str = "card_declined", decline_code: str | None = "insufficient_funds"
) -> dict:
    return payment_intent(
        order,
        status="requires_payment_method",
        last_payment_error={"type": "card_error", "code": code, "decline_code": decline_code},
    )


def refund(order: Order, *, status: str, amount: int, refund_id: str = "re_1", **fields: Any) -> dict:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": order.currency,
        "status": status,
        "payment_intent": order.payment_intent_id,
        "charge": f"ch_for_{order.payment_intent_id}",
        "created": T0,
        "livemode": False,
        "metadata": {},
        **fields,
    }


def session(order: Order, *, status: str = "complete", payment_status: str = "paid") -> dict:
    return {
        "id": f"cs_for_{order.pk}",
        "object": "checkout.session",
        "client_reference_id": order.number,
        "status": status,
        "payment_status": payment_status,
        "payment_intent": order.payment_intent_id,
        "customer": "cus_123",
        "amount_total": order.amount,
        "currency": order.currency,
        "metadata": {},
        "livemode": False,
    }


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict]]:
    """Every alert sent: its kind (which staff route on), message and ids."""
    seen: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(alerts, "alert_send", lambda *, kind, message, ids: seen.append((kind, message, ids)))
    return seen


@pytest.fixture
def declines(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Attempt, str]]:
    """Every decline counted against a customer for card testing, with the decline's id."""
    seen: list[tuple[Attempt, str]] = []

    def record(*, attempt: Attempt, decline_id: str) -> int:
        seen.append((attempt, decline_id))
        return len(seen)

    monkeypatch.setattr(handlers, "payment_decline_record", record)
    return seen


def test_the_table_covers_the_issue_s_event_types() -> None:
    expected = {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.processing",
        "payment_intent.canceled",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "refund.created",
        "refund.updated",
        "refund.failed",
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
    assert expected <= set(HANDLERS)


def test_payment_intent_succeeded_pays_and_fulfills_once(process: Process) -> None:
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))  # a second Event object
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.paid_at is not None and order.fulfilled_at is not None
    assert order.charge_id == f"ch_for_{order.payment_intent_id}"
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_payment_failed_records_the_decline_code_and_alerts_once(process: Process) -> None:
    order = OrderFactory()
    process(event("payment_intent.payment_failed", declined(order), created=T0))
    process(event("payment_intent.payment_failed", declined(order), created=T0))  # a second Event object
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.last_decline_code == "insufficient_funds"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith(
        f"Order {order.number}: payment failed, insufficient_funds, {order.payment_intent_id}"
    )


def test_a_failed_3ds_raises_its_own_alert(process: Process) -> None:
    order = OrderFactory()
    failed = declined(order, code="payment_intent_authentication_failure", decline_code=None)
    process(event("payment_intent.payment_failed", failed, created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.last_decline_code == "payment_intent_authentication_failure"
    assert "3-D Secure authentication failed" in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("event_type", "pi_status", "order_status"),
    [
        ("payment_intent.requires_action", "requires_action", Order.Status.AWAITING_PAYMENT),
        ("payment_intent.processing", "processing", Order.Status.AWAITING_PAYMENT),
        ("payment_intent.canceled", "canceled", Order.Status.CANCELED),
    ],
)
def test_intermediate_payment_intent_states(
    process: Process, event_type: str, pi_status: str, order_status: str
) -> None:
    order = OrderFactory(status=Order.Status.PENDING)
    process(event(event_type, payment_intent(order, status=pi_status), created=T0))
    order.refresh_from_db()
    assert order.status == order_status
    assert order.payment_intent_status == pi_status
    assert not Fulfillment.objects.filter(order=order).exists()


@pytest.mark.parametrize(
    ("event_type", "pi_status"),
    [
        ("payment_intent.processing", "processing"),
        ("payment_intent.requires_action", "requires_action"),
        ("payment_intent.payment_failed", "requires_payment_method"),
        ("payment_intent.canceled", "canceled"),
    ],
)
def test_a_stale_snapshot_never_undoes_a_succeeded_payment(
    process: Process, event_type: str, pi_status: str
) -> None:
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0 + 10))
    stale = (
        declined(order) if pi_status == "requires_payment_method" else payment_intent(order, status=pi_status)
    )
    process(event(event_type, stale, created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.last_decline_code == ""
    assert len(mail.outbox) == 0


def test_a_retry_after_a_failure_moves_on_but_an_older_failure_does_not_come_back(process: Process) -> None:
    order = OrderFactory()
    process(
        event(
            "payment_intent.requires_action", payment_intent(order, status="requires_action"), created=T0 + 2
        )
    )
    process(event("payment_intent.payment_failed", declined(order), created=T0 + 1))  # older: arrives late
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.payment_intent_status == "requires_action"


def test_charge_succeeded_alone_pays_and_fulfills(process: Process) -> None:
    order = OrderFactory()
    process(event("charge.succeeded", charge(order), created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_charge_failed_records_a_failed_attempt(process: Process) -> None:
    order = OrderFactory()
    process(event("charge.failed", charge(order, status="failed"), created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.last_decline_code == "card_declined"


def test_charge_refunded_partially_then_fully(process: Process) -> None:
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    process(event("charge.refunded", charge(order, amount_refunded=1000), created=T0 + 5))
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1000)
    process(event("charge.refunded", charge(order, amount_refunded=4200, refunded=True), created=T0 + 6))
    process(event("charge.refunded", charge(order, amount_refunded=1000), created=T0 + 5))  # stale
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 4200)


def test_a_refund_processed_before_the_payment_still_fulfills_once_and_stays_refunded(
    process: Process,
) -> None:
    order = OrderFactory()
    process(event("charge.refunded", charge(order, amount_refunded=4200, refunded=True), created=T0 + 6))
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Fulfillment.objects.filter(order=order).count() == 1


def test_refund_events_keep_the_mirror_and_the_refunded_amount(process: Process) -> None:
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    process(event("refund.updated", refund(order, status="succeeded", amount=1500), created=T0 + 2))
    process(event("refund.created", refund(order, status="pending", amount=1500), created=T0 + 1))  # late
    mirror = Refund.objects.get(stripe_id="re_1")
    order.refresh_from_db()
    assert mirror.status == Refund.Status.SUCCEEDED
    assert mirror.order == order
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1500)


def test_a_failed_refund_is_recorded_and_alerted(process: Process) -> None:
    order = OrderFactory()
    process(event("refund.created", refund(order, status="pending", amount=4200), created=T0))
    process(
        event(
            "refund.failed",
            refund(order, status="failed", amount=4200, failure_reason="expired_or_canceled_card"),
        )
    )
    mirror = Refund.objects.get()
    assert (mirror.status, mirror.failure_reason) == (Refund.Status.FAILED, "expired_or_canceled_card")
    assert mail.outbox[-1].subject.endswith(
        f"Order {order.number}: refund re_1 failed, expired_or_canceled_card"
    )


def test_refunds_that_fail_after_succeeding_give_the_order_its_money_back_once(
    process: Process, sent: list
) -> None:
    # given: a fulfilled order refunded in full by two refunds
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    process(event("refund.updated", refund(order, status="succeeded", amount=1000), created=T0 + 1))
    second = refund(order, status="succeeded", amount=3200, refund_id="re_2")
    process(event("refund.updated", second, created=T0 + 2))
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 4200)
    # when: the second fails at the bank (Stripe put its money back in the balance)
    failed_second = {**second, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    process(event("refund.failed", failed_second, created=T0 + 3))
    order.refresh_from_db()
    # then: only the first counts
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1000)
    # when: the first fails too, said by two events, then a stale success of it comes
    failed_first = refund(order, status="failed", amount=1000, failure_reason="lost_or_stolen_card")
    process(event("refund.updated", failed_first, created=T0 + 4))
    process(event("refund.failed", failed_first, created=T0 + 4))
    process(event("refund.updated", refund(order, status="succeeded", amount=1000), created=T0 + 1))
    order.refresh_from_db()
    # then: the order is fulfilled again with nothing refunded, lowered once per refund
    assert (order.status, order.amount_refunded) == (Order.Status.FULFILLED, 0)
    assert Fulfillment.objects.filter(order=order).count() == 1
    assert [kind for kind, _, _ in sent] == [AlertKind.REFUND_FAILED] * 2  # one per refund.failed


def test_a_refund_seen_first_as_failed_does_not_lower_what_others_refunded(process: Process) -> None:
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    process(event("refund.updated", refund(order, status="succeeded", amount=1000), created=T0 + 1))
    failed = refund(order, status="failed", amount=1000, refund_id="re_never_succeeded")
    process(event("refund.failed", failed, created=T0 + 2))
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1000)


def test_checkout_session_completed_and_paid_fulfills(process: Process) -> None:
    order = OrderFactory(payment_intent_id=None, status=Order.Status.AWAITING_PAYMENT)
    obj = session(order)
    obj["payment_intent"] = "pi_from_session"
    process(event("checkout.session.completed", obj, created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.checkout_session_id == obj["id"]
    assert order.payment_intent_id == "pi_from_session"
    assert order.stripe_customer_id == "cus_123"


def test_checkout_async_payment_unpaid_then_succeeded(process: Process) -> None:
    order = OrderFactory()
    process(event("checkout.session.completed", session(order, payment_status="unpaid"), created=T0))
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    process(event("checkout.session.async_payment_succeeded", session(order), created=T0 + 60))
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_checkout_async_payment_failed(process: Process) -> None:
    order = OrderFactory()
    obj = session(order, payment_status="unpaid")
    process(event("checkout.session.async_payment_failed", obj, created=T0 + 60))
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert f"Order {order.number}: payment failed" in mail.outbox[0].subject


def test_checkout_session_expired_cancels_an_unpaid_order_but_not_a_paid_one(process: Process) -> None:
    unpaid, paid = OrderFactory(), OrderFactory()
    process(event("checkout.session.expired", session(unpaid, status="expired", payment_status="unpaid")))
    process(event("payment_intent.succeeded", payment_intent(paid), created=T0))
    process(event("checkout.session.expired", session(paid, status="expired", payment_status="unpaid")))
    unpaid.refresh_from_db()
    paid.refresh_from_db()
    assert unpaid.status == Order.Status.CANCELED
    assert paid.status == Order.Status.FULFILLED


def test_orders_are_found_by_metadata_number_or_payment_intent(process: Process) -> None:
    by_number, by_pi = OrderFactory(), OrderFactory()
    process(
        event(
            "payment_intent.succeeded", payment_intent(by_number, metadata={"order_number": by_number.number})
        )
    )
    process(event("payment_intent.succeeded", payment_intent(by_pi, metadata={})))
    assert Fulfillment.objects.filter(order__in=[by_number, by_pi]).count() == 2


def test_a_refund_is_mirrored_with_stripes_ids_amount_currency_and_time(process: Process) -> None:
    order = OrderFactory()
    process(event("payment_intent.succeeded", payment_intent(order), created=T0))
    expanded_charge = {"id": f"ch_for_{order.payment_intent_id}", "object": "charge"}
    process(event("refund.created", refund(order, status="pending", amount=1500, charge=expanded_charge)))
    mirror = Refund.objects.get(stripe_id="re_1")
    assert (mirror.order, mirror.payment_intent_id, mirror.charge_id) == (
        order,
        order.payment_intent_id,
        f"ch_for_{order.payment_intent_id}",
    )
    assert (mirror.amount, mirror.currency, mirror.status) == (1500, order.currency, Refund.Status.PENDING)
    assert mirror.stripe_created == datetime.fromtimestamp(T0, tz=UTC)


def test_a_refund_of_no_order_of_ours_is_mirrored_in_its_own_currency(process: Process) -> None:
    # a refund of a charge made elsewhere (no PaymentIntent, no order of ours), in euros
    orphan = {
        "id": "re_elsewhere",
        "object": "refund",
        "amount": 700,
        "currency": "eur",
        "status": "succeeded",
        "payment_intent": None,
        "charge": "ch_elsewhere",
        "metadata": {},
    }
    process(event("refund.updated", orphan))
    mirror = Refund.objects.get(stripe_id="re_elsewhere")
    assert (mirror.order, mirror.payment_intent_id, mirror.charge_id) == (None, "", "ch_elsewhere")
    assert (mirror.amount, mirror.currency, mirror.status) == (700, "eur", Refund.Status.SUCCEEDED)
    assert mirror.stripe_created is None


def test_a_refund_moving_forward_keeps_stripes_reason_cut_to_its_column_and_when_we_synced(
    process: Process,
) -> None:
    order = OrderFactory()
    process(event("refund.created", refund(order, status="pending", amount=1000), created=T0))
    first_sync = Refund.objects.get().synced_at
    long_reason = "a_failure_reason_from_a_future_api_version_" + "y" * 40
    process(event("refund.failed", refund(order, status="failed", amount=1000, failure_reason=long_reason)))
    mirror = Refund.objects.get()
    assert (mirror.status, mirror.failure_reason) == ("failed", long_reason[:64])
    assert mirror.synced_at is not None and first_sync is not None and mirror.synced_at > first_sync


def test_a_final_refund_status_is_not_replaced_by_another_final_one(process: Process) -> None:
    order = OrderFactory()
    process(event("refund.failed", refund(order, status="failed", amount=1000, failure_reason="declined")))
    process(event("refund.updated", refund(order, status="canceled", amount=1000, failure_reason="unknown")))
    mirror = Refund.objects.get()
    assert (mirror.status, mirror.failure_reason) == ("failed", "declined")


def test_a_refund_without_a_currency_takes_its_orders(process: Process) -> None:
    order = OrderFactory(currency="jpy")
    bare = refund(order, status="pending", amount=500)
    del bare["currency"]
    process(event("refund.created", bare))
    assert Refund.objects.get().currency == "jpy"


def test_a_refund_that_failed_at_once_keeps_its_reason(process: Process) -> None:
    order = OrderFactory()
    failed = refund(order, status="failed", amount=4200, failure_reason="lost_or_stolen_card", livemode=True)
    process(event("refund.failed", failed))
    mirror = Refund.objects.get()
    assert (mirror.status, mirror.failure_reason, mirror.livemode) == ("failed", "lost_or_stolen_card", True)
    order.refresh_from_db()
    assert order.amount_refunded == 0


def test_a_refund_first_seen_succeeded_has_no_failure_reason_and_one_seen_failed_keeps_64_characters(
    process: Process,
) -> None:
    order = OrderFactory()
    process(event("refund.created", refund(order, status="succeeded", amount=1000, refund_id="re_ok")))
    long_reason = "a_failure_reason_from_a_future_api_version_" + "x" * 40
    failed = refund(order, status="failed", amount=1000, refund_id="re_failed", failure_reason=long_reason)
    process(event("refund.failed", failed))
    # a refund with no currency and no order of ours (never seen from Stripe) is kept in usd
    orphan = {**refund(order, status="pending", amount=500, refund_id="re_bare"), "payment_intent": None}
    del orphan["currency"]
    process(event("refund.created", orphan))
    reasons = dict(Refund.objects.values_list("stripe_id", "failure_reason"))
    assert reasons == {"re_ok": "", "re_failed": long_reason[:64], "re_bare": ""}
    assert Refund.objects.get(stripe_id="re_bare").currency == "usd"


def test_a_refund_status_we_do_not_know_never_overwrites_one_we_do(process: Process) -> None:
    order = OrderFactory()
    process(event("refund.created", refund(order, status="pending", amount=1500)))
    process(event("refund.updated", refund(order, status="some_future_status", amount=1500)))
    assert Refund.objects.get().status == Refund.Status.PENDING


def test_of_two_refund_statuses_we_do_not_know_the_one_held_stays(process: Process) -> None:
    order = OrderFactory()
    process(event("refund.created", refund(order, status="some_future_status", amount=1500)))
    process(event("refund.updated", refund(order, status="another_future_status", amount=1500)))
    assert Refund.objects.get().status == "some_future_status"


def test_a_refund_without_an_amount_is_mirrored_as_nothing_refunded(process: Process) -> None:
    order = OrderFactory(status=Order.Status.PAID)
    bare = refund(order, status="succeeded", amount=0)
    del bare["amount"]
    process(event("refund.created", bare))
    assert Refund.objects.get().amount == 0
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.PAID, 0)


def test_a_refunds_order_is_not_switched_by_a_later_snapshot_naming_another(process: Process) -> None:
    # given a refund mirrored on its order
    order, other = OrderFactory(), OrderFactory()
    process(event("refund.created", refund(order, status="pending", amount=1500)))
    # when a later snapshot's metadata names another order of ours
    moved = refund(order, status="succeeded", amount=1500, metadata={"order_id": str(other.pk)})
    process(event("refund.updated", moved))
    # then the refund stays on its order
    assert Refund.objects.get().order == order


def test_a_refund_mirrored_before_its_order_was_known_is_linked_when_it_succeeds(process: Process) -> None:
    # given a refund event for a PaymentIntent that no order of ours pointed at yet
    order = OrderFactory(payment_intent_id=None)
    early = {**refund(order, status="pending", amount=1500), "payment_intent": "pi_linked_later"}
    process(event("refund.created", early))
    assert Refund.objects.get().order is None
    # when the order is linked and the refund succeeds
    Order.objects.filter(pk=order.pk).update(payment_intent_id="pi_linked_later", status=Order.Status.PAID)
    process(event("refund.updated", {**early, "status": "succeeded"}))
    # then the mirror names the order, and the order counts the refund
    mirror = Refund.objects.get()
    assert (mirror.order, mirror.status, mirror.failure_reason) == (order, "succeeded", "")
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1500)


def test_a_declined_payment_alerts_with_its_kind_and_ids_and_counts_its_charge(
    process: Process, sent: list, declines: list
) -> None:
    order = OrderFactory()
    failed = declined(order)
    failed["last_payment_error"]["charge"] = "ch_declined_1"
    process(event("payment_intent.payment_failed", failed, created=T0))
    pi = order.payment_intent_id
    assert sent == [
        (
            AlertKind.PAYMENT_FAILED,
            f"Order {order.number}: payment failed, insufficient_funds, {pi}",
            {"order": order.number, "payment_intent": pi, "object": pi},
        )
    ]
    assert declines == [(Attempt(ip=order.customer_ip, email=order.email), "ch_declined_1")]


def test_a_failed_3ds_alert_is_of_its_own_kind(process: Process, sent: list, declines: list) -> None:
    order = OrderFactory()
    failed = declined(order, code="payment_intent_authentication_failure", decline_code=None)
    failed["latest_charge"] = "ch_latest"
    process(event("payment_intent.payment_failed", failed, created=T0))
    pi = order.payment_intent_id
    assert sent == [
        (
            AlertKind.THREE_DS_FAILED,
            f"Order {order.number}: 3-D Secure authentication failed, "
            f"payment_intent_authentication_failure, {pi}",
            {"order": order.number, "payment_intent": pi, "object": pi},
        )
    ]
    assert declines == [(Attempt(ip=order.customer_ip, email=order.email), "ch_latest")]


def test_a_failed_async_payment_of_a_session_without_a_payment_intent_alerts_with_the_session(
    process: Process, sent: list
) -> None:
    order = OrderFactory()
    obj = {**session(order, payment_status="unpaid"), "payment_intent": None}
    process(event("checkout.session.async_payment_failed", obj, created=T0 + 60))
    assert sent == [
        (
            AlertKind.PAYMENT_FAILED,
            f"Order {order.number}: payment failed, no code, {obj['id']}",
            {"order": order.number, "payment_intent": None, "object": obj["id"]},
        )
    ]


def test_a_failed_async_checkout_payment_alerts_once_with_the_session_s_payment_intent(
    process: Process, sent: list, declines: list
) -> None:
    order = OrderFactory()
    obj = session(order, payment_status="unpaid")
    first = process(event("checkout.session.async_payment_failed", obj, created=T0 + 60))
    process(event("checkout.session.async_payment_failed", obj, created=T0 + 60))  # a second Event object
    pi = order.payment_intent_id
    assert sent == [
        (
            AlertKind.PAYMENT_FAILED,
            f"Order {order.number}: payment failed, no code, {pi}",
            {"order": order.number, "payment_intent": pi, "object": obj["id"]},
        )
    ]
    # No charge id in a session: the decline is counted once per event.
    assert declines[0] == (Attempt(ip=order.customer_ip, email=order.email), first.stripe_id)


def test_a_failed_payment_of_an_unknown_order_is_ignored_saying_why(process: Process) -> None:
    order = OrderFactory.build(payment_intent_id="pi_unknown", pk=None)
    row = process(event("payment_intent.payment_failed", declined(order)))
    assert (row.status, row.last_error) == (StripeEvent.Status.IGNORED, NOTE_NO_ORDER)


def test_a_failed_refund_of_an_unknown_payment_alerts_with_no_order_and_no_code(
    process: Process, sent: list
) -> None:
    order = OrderFactory.build(payment_intent_id="pi_unknown", pk=None)
    row = process(event("refund.failed", refund(order, status="failed", amount=100, refund_id="re_lost")))
    assert (row.status, row.last_error) == (StripeEvent.Status.IGNORED, NOTE_NO_ORDER)
    assert sent == [
        (
            AlertKind.REFUND_FAILED,
            "Order (no order): refund re_lost failed, no code",
            {"order": "(no order)", "refund": "re_lost"},
        )
    ]
