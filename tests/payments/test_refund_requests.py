"""Refunds staff ask for: each request is one row with its own Stripe idempotency key, validated
before Stripe is called, followed by the refund.* webhooks. Against the emulator, through the SDK."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User

from core.models import ApiIdempotencyKey
from core.roles import FINANCE
from disputes.models import Dispute
from orders.models import Order
from payments.models import Charge, Refund, RefundRequest, StaffAction, StripeEvent
from payments.services.refund_requests import (
    ERROR_AMOUNT,
    ERROR_DISPUTED,
    ERROR_NOT_PAID,
    ERROR_NOTHING_LEFT,
    ERROR_OVER_REST,
    ERROR_REASON,
    ERROR_STRIPE_REFUSED,
    ERROR_STRIPE_UNKNOWN,
    RefundOutcomeUnknown,
    RefundRefused,
    refund_request_create,
    refund_request_rest,
)
from tests.factories import OrderFactory, event
from tests.payments.refund_support import paid_at_stripe, stripe_refunds

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(emulator: Any) -> Order:
    return paid_at_stripe(emulator)


def refunded_in_full_by_a_failing_card(emulator: Any, finance: User) -> tuple[Order, RefundRequest]:
    """An order paid by a card whose refunds fail at the bank, and its full refund (succeeded)."""
    order = paid_at_stripe(emulator, card="pm_card_refundFail")
    request = refund_request_create(
        order=order, amount=4200, reason="requested_by_customer", requested_by=finance
    )
    return order, request


def failed_at_stripe(emulator: Any, refund_id: str) -> dict[str, Any]:
    """The refund once Stripe has failed it (a `pm_card_refundFail` refund fails a moment after
    it succeeds)."""
    refunds = emulator.client().v1.refunds
    for _ in range(100):
        refund: dict[str, Any] = refunds.retrieve(refund_id).to_dict()
        if refund["status"] == "failed":
            return refund
        time.sleep(0.05)
    raise AssertionError(f"{refund_id} did not fail")


@pytest.fixture
def finance() -> User:
    user = User.objects.create_user(username="fiona", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE))
    return user


def test_a_partial_refund_is_made_once_with_its_own_key_and_audited(
    emulator: Any, paid_order: Order, finance: User, caplog: Any
) -> None:
    with caplog.at_level("INFO", logger="payments.stripe_gateway"):
        request = refund_request_create(
            order=paid_order, amount=1000, reason="requested_by_customer", requested_by=finance
        )

    assert request.status == RefundRequest.Status.SUCCEEDED
    assert request.idempotency_key == f"refund-request:{request.pk}:v1"
    assert RefundRequest.objects.get(pk=request.pk).requested_by == finance
    (refund,) = stripe_refunds(emulator, paid_order)
    assert (refund.id, refund.amount, refund.reason) == (
        request.stripe_refund_id,
        1000,
        "requested_by_customer",
    )
    # the refund in the Stripe Dashboard names its request and its order
    assert refund.metadata.to_dict() == {
        "refund_request": str(request.pk),
        "order_id": str(paid_order.pk),
        "order_number": paid_order.number,
    }
    # and the gateway's log line of the call carries our identifiers
    (call,) = [r for r in caplog.records if getattr(r, "operation", "") == "refund.create"]
    assert (call.order, call.refund_request) == (paid_order.number, request.pk)  # type: ignore[attr-defined]
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.amount_refunded) == (Order.Status.PARTIALLY_REFUNDED, 1000)
    assert Refund.objects.get(stripe_id=refund.id).order == paid_order
    action = StaffAction.objects.get(action="refund")
    assert (action.actor, action.target, action.reason) == (
        finance,
        paid_order.number,
        "requested_by_customer",
    )
    assert action.outcome == f"{refund.id} succeeded, £10.00"
    assert refund_request_rest(order=paid_order) == 3200


def test_no_amount_refunds_the_rest(emulator: Any, paid_order: Order, finance: User) -> None:
    refund_request_create(order=paid_order, amount=1200, reason="duplicate", requested_by=finance)
    rest = refund_request_create(order=paid_order, amount=None, reason="duplicate", requested_by=finance)
    assert rest.amount == 3000
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.amount_refunded) == (Order.Status.REFUNDED, 4200)
    assert sorted(r.amount for r in stripe_refunds(emulator, paid_order)) == [1200, 3000]
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=paid_order, amount=None, reason="duplicate", requested_by=finance)
    assert str(refused.value) == ERROR_NOTHING_LEFT.format(number=paid_order.number)


def test_an_order_whose_whole_amount_is_being_refunded_elsewhere_has_nothing_left_to_refund(
    emulator: Any, paid_order: Order, finance: User
) -> None:
    # given a refund of the whole order made in the Dashboard, still pending (the order's own
    # refunded amount and status have not moved yet)
    Refund.objects.create(
        stripe_id="re_dashboard_1",
        order=paid_order,
        amount=paid_order.amount,
        currency=paid_order.currency,
        status=Refund.Status.PENDING,
    )
    # when finance asks for the rest, or for any amount
    for amount in (None, 100):
        with pytest.raises(RefundRefused) as refused:
            refund_request_create(
                order=paid_order, amount=amount, reason="requested_by_customer", requested_by=finance
            )
        # then it is refused as fully refunded, and nothing is stored or sent to Stripe
        assert str(refused.value) == ERROR_NOTHING_LEFT.format(number=paid_order.number)
    assert not RefundRequest.objects.exists() and stripe_refunds(emulator, paid_order) == []


def test_more_than_the_rest_is_refused_and_nothing_changes(
    emulator: Any, paid_order: Order, finance: User
) -> None:
    refund_request_create(order=paid_order, amount=3000, reason="requested_by_customer", requested_by=finance)
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(
            order=paid_order, amount=1201, reason="requested_by_customer", requested_by=finance
        )
    assert str(refused.value) == ERROR_OVER_REST.format(number=paid_order.number, rest="£12.00")
    assert RefundRequest.objects.count() == 1
    assert len(stripe_refunds(emulator, paid_order)) == 1
    paid_order.refresh_from_db()
    assert paid_order.amount_refunded == 3000
    assert StaffAction.objects.filter(outcome__startswith="refused:").count() == 1


def test_an_unpaid_order_is_refused_without_calling_stripe(emulator: Any, finance: User) -> None:
    order = OrderFactory(status=Order.Status.AWAITING_PAYMENT)
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=order, amount=None, reason="requested_by_customer", requested_by=finance)
    assert str(refused.value) == ERROR_NOT_PAID.format(number=order.number)
    assert not RefundRequest.objects.exists()
    assert list(emulator.client().v1.refunds.list().data) == []


@pytest.mark.parametrize(
    ("amount", "reason", "error"),
    [
        (0, "duplicate", ERROR_AMOUNT),
        (-500, "duplicate", ERROR_AMOUNT),
        (500, "changed_mind", ERROR_REASON),
        (500, "", ERROR_REASON),
    ],
)
def test_a_refund_of_nothing_or_without_a_stripe_reason_is_refused_with_nothing_sent(
    emulator: Any, paid_order: Order, finance: User, amount: int, reason: str, error: str
) -> None:
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=paid_order, amount=amount, reason=reason, requested_by=finance)
    assert str(refused.value) == error
    assert not RefundRequest.objects.exists() and stripe_refunds(emulator, paid_order) == []
    # the audit trail says who asked, why, and that it was refused
    audit = StaffAction.objects.filter(action="refund").values_list(
        "actor", "action", "target", "reason", "outcome"
    )
    assert list(audit) == [(finance.pk, "refund", paid_order.number, reason, f"refused: {error}")]


def test_the_last_minor_unit_can_be_refunded(emulator: Any, paid_order: Order, finance: User) -> None:
    refund_request_create(order=paid_order, amount=4199, reason="duplicate", requested_by=finance)
    assert refund_request_rest(order=paid_order) == 1
    last = refund_request_create(
        order=paid_order, amount=1, reason="duplicate", requested_by=finance, form_token="last"
    )
    assert (last.status, last.amount) == (RefundRequest.Status.SUCCEEDED, 1)


def test_an_order_marked_disputed_is_refused_and_another_orders_dispute_blocks_nothing(
    emulator: Any, paid_order: Order, finance: User
) -> None:
    other = OrderFactory(status=Order.Status.FULFILLED, charge_id="ch_of_another_order")
    Dispute.objects.create(
        stripe_id="du_other",
        charge_id="ch_of_another_order",
        order=other,
        amount=4200,
        currency="gbp",
        status="needs_response",
    )
    disputed = paid_at_stripe(emulator)
    Order.objects.filter(pk=disputed.pk).update(status=Order.Status.DISPUTED)
    disputed.refresh_from_db()
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=disputed, amount=None, reason="duplicate", requested_by=finance)
    assert str(refused.value) == ERROR_DISPUTED.format(number=disputed.number)
    # the other order's open dispute does not stop this one's refund
    done = refund_request_create(order=paid_order, amount=None, reason="duplicate", requested_by=finance)
    assert done.status == RefundRequest.Status.SUCCEEDED


def test_a_disputed_charge_is_refused(emulator: Any, paid_order: Order, finance: User) -> None:
    Dispute.objects.create(
        stripe_id="du_test_1",
        charge_id=paid_order.charge_id,
        amount=4200,
        currency="gbp",
        status="needs_response",
    )
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(
            order=paid_order, amount=None, reason="requested_by_customer", requested_by=finance
        )
    assert str(refused.value) == ERROR_DISPUTED.format(number=paid_order.number)
    assert not RefundRequest.objects.exists() and stripe_refunds(emulator, paid_order) == []


def test_a_dispute_on_the_orders_mirrored_charge_is_refused_before_the_order_knows_that_charge(
    emulator: Any, paid_order: Order, finance: User
) -> None:
    # given a paid order whose charge is mirrored but not yet recorded on the order, and a dispute
    # on that charge not yet linked to the order either
    (charge,) = Charge.objects.filter(order=paid_order)
    Order.objects.filter(pk=paid_order.pk).update(charge_id="")
    paid_order.refresh_from_db()
    Dispute.objects.create(
        stripe_id="du_test_3",
        charge_id=charge.stripe_id,
        amount=4200,
        currency="gbp",
        status="needs_response",
    )
    # when finance asks for a refund
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(
            order=paid_order, amount=None, reason="requested_by_customer", requested_by=finance
        )
    # then it is refused as disputed, and Stripe is not asked
    assert str(refused.value) == ERROR_DISPUTED.format(number=paid_order.number)
    assert not RefundRequest.objects.exists() and stripe_refunds(emulator, paid_order) == []


@pytest.mark.parametrize("ours_by", ["the order", "the order's charge, not mirrored"])
def test_a_dispute_known_only_by_its_order_or_by_the_orders_unmirrored_charge_is_refused(
    emulator: Any, paid_order: Order, finance: User, ours_by: str
) -> None:
    # given a dispute the webhook linked to the order with no charge id, or one on the order's
    # charge before that charge's own event (its mirror) came
    if ours_by == "the order":
        Dispute.objects.create(
            stripe_id="du_test_4",
            order=paid_order,
            charge_id="",
            amount=4200,
            currency="gbp",
            status="under_review",
        )
    else:
        Charge.objects.filter(order=paid_order).delete()
        Dispute.objects.create(
            stripe_id="du_test_4", charge_id=paid_order.charge_id, amount=4200, currency="gbp", status="lost"
        )
    # when finance asks for a refund, then it is refused and Stripe is not asked
    with pytest.raises(RefundRefused, match="disput"):
        refund_request_create(
            order=paid_order, amount=None, reason="requested_by_customer", requested_by=finance
        )
    assert not RefundRequest.objects.exists() and stripe_refunds(emulator, paid_order) == []


@pytest.mark.parametrize("by", ["form", "api"])
def test_a_double_submit_that_read_before_the_first_was_stored_finds_it_under_the_lock(
    emulator: Any, paid_order: Order, finance: User, monkeypatch: pytest.MonkeyPatch, by: str
) -> None:
    # given a first submit of the form (or of the finance API, by its idempotency key), and a
    # second one that looked for its row before the first stored it, and then waited for the
    # order's lock
    from payments.services import refund_requests

    submit: dict[str, Any] = {"order": paid_order, "amount": 500, "reason": "duplicate"}
    submit["requested_by"] = finance
    if by == "form":
        submit["form_token"] = "form-2"
    else:
        submit["api_key"] = ApiIdempotencyKey.objects.create(
            user=finance, scope=f"refunds:{paid_order.number}", key="k-1", fingerprint="f" * 64
        )
    first = refund_request_create(**submit)
    real, looks = refund_requests._existing, []

    def existing(**where: Any) -> RefundRequest | None:
        looks.append(where)
        return None if len(looks) == 1 else real(**where)

    monkeypatch.setattr(refund_requests, "_existing", existing)

    # when it gets the lock, then it finds the first one's request and refunds nothing more
    assert refund_request_create(**submit).pk == first.pk
    assert RefundRequest.objects.count() == 1 and len(stripe_refunds(emulator, paid_order)) == 1


def test_an_inquiry_does_not_block_a_refund(emulator: Any, paid_order: Order, finance: User) -> None:
    Dispute.objects.create(
        stripe_id="du_test_2",
        charge_id=paid_order.charge_id,
        amount=4200,
        currency="gbp",
        status="warning_needs_response",
    )
    request = refund_request_create(
        order=paid_order, amount=None, reason="requested_by_customer", requested_by=finance
    )
    assert request.status == RefundRequest.Status.SUCCEEDED


def test_a_double_submit_of_one_form_refunds_once(emulator: Any, paid_order: Order, finance: User) -> None:
    first = refund_request_create(
        order=paid_order,
        amount=500,
        reason="requested_by_customer",
        requested_by=finance,
        form_token="form-1",
    )
    second = refund_request_create(
        order=paid_order,
        amount=500,
        reason="requested_by_customer",
        requested_by=finance,
        form_token="form-1",
    )
    assert first.pk == second.pk
    assert len(stripe_refunds(emulator, paid_order)) == 1
    paid_order.refresh_from_db()
    assert paid_order.amount_refunded == 500


@pytest.mark.parametrize("nobody", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_a_refund_asked_for_by_no_signed_in_user_names_no_requester(
    emulator: Any, paid_order: Order, nobody: Any
) -> None:
    request = refund_request_create(order=paid_order, amount=300, reason="duplicate", requested_by=nobody)
    assert request.status == RefundRequest.Status.SUCCEEDED
    assert RefundRequest.objects.get(pk=request.pk).requested_by is None


def test_another_orders_refunds_leave_this_orders_rest_alone(emulator: Any, paid_order: Order) -> None:
    # given another order refunded in the Dashboard (a refund mirror no request of ours made)
    other = OrderFactory(amount=4200, status=Order.Status.PARTIALLY_REFUNDED)
    Refund.objects.create(
        stripe_id="re_elsewhere", order=other, amount=1500, currency="gbp", status=Refund.Status.SUCCEEDED
    )
    # then all of this order is still to refund, and 27.00 of the other
    assert refund_request_rest(order=paid_order) == 4200
    assert refund_request_rest(order=other) == 2700


def test_the_same_form_sent_again_after_stripe_refused_it_asks_stripe_no_more(
    emulator: Any, paid_order: Order, finance: User
) -> None:
    # given Stripe refused the form's refund (the payment was refunded in the Dashboard first)
    emulator.client().v1.refunds.create(params={"payment_intent": paid_order.payment_intent_id})
    submit = {"order": paid_order, "amount": 500, "reason": "duplicate", "requested_by": finance}
    with pytest.raises(RefundRefused):
        refund_request_create(**submit, form_token="refused-form")
    # when the same form is sent again, then it is the failed request, and Stripe is not asked again
    again = refund_request_create(**submit, form_token="refused-form")
    assert (again.status, again.stripe_refund_id) == (RefundRequest.Status.FAILED, None)
    assert len(stripe_refunds(emulator, paid_order)) == 1
    assert StaffAction.objects.filter(action="refund").count() == 1


def test_two_equal_partial_refunds_are_two_requests(emulator: Any, paid_order: Order, finance: User) -> None:
    one = refund_request_create(order=paid_order, amount=500, reason="duplicate", requested_by=finance)
    two = refund_request_create(order=paid_order, amount=500, reason="duplicate", requested_by=finance)
    assert one.idempotency_key != two.idempotency_key
    assert [r.amount for r in stripe_refunds(emulator, paid_order)] == [500, 500]
    paid_order.refresh_from_db()
    assert paid_order.amount_refunded == 1000


def test_a_lost_answer_is_retried_with_the_same_key_and_refunds_once(
    emulator: Any, paid_order: Order, finance: User, settings: Any
) -> None:
    # given Stripe makes the refund but the answer never reaches us
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    emulator.set_faults(api=[{"kind": "drop_after", "path": "^/v1/refunds", "method": "POST", "count": 1}])
    with pytest.raises(RefundOutcomeUnknown) as unknown:
        refund_request_create(
            order=paid_order, amount=700, reason="requested_by_customer", requested_by=finance, form_token="f"
        )
    kept = RefundRequest.objects.get()
    assert kept.status == RefundRequest.Status.REQUESTED and kept.stripe_refund_id is None
    # staff are told it is kept and safe to retry, and the audit trail says so
    assert str(unknown.value) == ERROR_STRIPE_UNKNOWN.format(pk=kept.pk, number=paid_order.number)
    assert unknown.value.request.pk == kept.pk
    action = StaffAction.objects.get(action="refund")
    assert (action.actor, action.target, action.reason) == (
        finance,
        paid_order.number,
        "requested_by_customer",
    )
    assert action.outcome.startswith("unknown: ")
    # when staff submit the same form again
    again = refund_request_create(
        order=paid_order, amount=700, reason="requested_by_customer", requested_by=finance, form_token="f"
    )
    # then Stripe answers the refund it made the first time
    (refund,) = stripe_refunds(emulator, paid_order)
    assert again.pk == kept.pk and again.stripe_refund_id == refund.id
    assert again.status == RefundRequest.Status.SUCCEEDED


def test_a_refund_that_fails_later_fails_its_request_and_alerts(
    emulator: Any, paid_order: Order, finance: User, process: Callable[..., StripeEvent], caplog: Any
) -> None:
    request = refund_request_create(
        order=paid_order, amount=800, reason="requested_by_customer", requested_by=finance
    )
    refund = emulator.client().v1.refunds.retrieve(request.stripe_refund_id).to_dict()
    failed = {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}

    row = process(event("refund.failed", failed))

    assert row.status == StripeEvent.Status.PROCESSED
    request.refresh_from_db()
    assert (request.status, request.failure_reason) == ("failed", "expired_or_canceled_card")
    assert f"Order {paid_order.number}: refund {refund['id']} failed, expired_or_canceled_card" in caplog.text


def test_after_a_refund_fails_later_its_amount_can_be_refunded_again(
    emulator: Any, finance: User, process: Callable[..., StripeEvent]
) -> None:
    # given: an order paid by a card whose refunds fail at the bank, refunded in full
    order, request = refunded_in_full_by_a_failing_card(emulator, finance)
    order.refresh_from_db()
    assert (request.status, order.status, order.amount_refunded) == ("succeeded", Order.Status.REFUNDED, 4200)
    # when: Stripe fails the refund a moment later (its money goes back to the balance)
    process(event("refund.failed", failed_at_stripe(emulator, request.stripe_refund_id)))
    # then: the customer has not been refunded, and staff can refund the whole order again
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.FULFILLED, 0)
    again = refund_request_create(
        order=order, amount=4200, reason="requested_by_customer", requested_by=finance, form_token="again"
    )
    assert again.status == RefundRequest.Status.SUCCEEDED
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.REFUNDED, 4200)


def test_a_charge_snapshot_from_before_a_refund_failed_does_not_count_it_again(
    emulator: Any, finance: User, process: Callable[..., StripeEvent]
) -> None:
    # given: an order refunded in full whose refund then failed at the bank
    order, request = refunded_in_full_by_a_failing_card(emulator, finance)
    refund = failed_at_stripe(emulator, request.stripe_refund_id)
    process(event("refund.failed", refund))
    # when: the charge.refunded event of the refund, sent before it failed, comes last
    charge = emulator.client().v1.charges.retrieve(refund["charge"]).to_dict()
    stale = {**charge, "amount_refunded": 4200, "refunded": True}
    row = process(event("charge.refunded", stale))
    # then: the customer is still not refunded, and the whole order can be refunded again
    assert row.status == StripeEvent.Status.PROCESSED
    order.refresh_from_db()
    assert (order.status, order.amount_refunded) == (Order.Status.FULFILLED, 0)
    assert refund_request_rest(order=order) == 4200


def test_a_webhook_that_comes_before_stripes_answer_links_the_request(
    paid_order: Order, finance: User, process: Callable[..., StripeEvent]
) -> None:
    other = RefundRequest.objects.create(
        order=paid_order, amount=500, currency="gbp", reason="duplicate", requested_by=finance
    )
    request = RefundRequest.objects.create(
        order=paid_order, amount=600, currency="gbp", reason="duplicate", requested_by=finance
    )
    later = RefundRequest.objects.create(
        order=paid_order, amount=700, currency="gbp", reason="duplicate", requested_by=finance
    )
    refund = {
        "id": "re_test_early",
        "object": "refund",
        "amount": 600,
        "currency": "gbp",
        "status": "pending",
        "payment_intent": paid_order.payment_intent_id,
        "metadata": {"refund_request": str(request.pk), "order_id": str(paid_order.pk)},
    }
    process(event("refund.created", refund))
    request.refresh_from_db()
    assert (request.stripe_refund_id, request.status) == ("re_test_early", "pending")
    # the request named in the metadata, not another one waiting
    for waiting in (other, later):
        waiting.refresh_from_db()
        assert (waiting.stripe_refund_id, waiting.status) == (None, "requested")
    process(event("refund.updated", {**refund, "status": "succeeded"}))
    request.refresh_from_db()
    assert request.status == "succeeded"
    # a stale event changes nothing
    process(event("refund.updated", {**refund, "status": "pending"}))
    request.refresh_from_db()
    assert request.status == "succeeded"


def test_a_refund_naming_a_request_of_another_order_does_not_move_that_request(
    paid_order: Order, finance: User, process: Callable[..., StripeEvent]
) -> None:
    # given a request on another order, and a refund of ours whose metadata names it (a refund
    # made by hand in the Dashboard, its metadata copied from another)
    elsewhere = RefundRequest.objects.create(
        order=OrderFactory(status=Order.Status.PAID), amount=500, currency="gbp", reason="duplicate"
    )
    refund = {
        "id": "re_test_crossed",
        "object": "refund",
        "amount": 500,
        "currency": "gbp",
        "status": "succeeded",
        "payment_intent": paid_order.payment_intent_id,
        "metadata": {"refund_request": str(elsewhere.pk)},
    }
    process(event("refund.created", refund))
    # then the refund is mirrored on its own order and the other order's request is untouched
    assert Refund.objects.get(stripe_id="re_test_crossed").order == paid_order
    elsewhere.refresh_from_db()
    assert (elsewhere.stripe_refund_id, elsewhere.status) == (None, "requested")


def test_a_refund_naming_a_request_another_refund_already_answered_does_not_move_it(
    paid_order: Order, finance: User, process: Callable[..., StripeEvent]
) -> None:
    answered = RefundRequest.objects.create(
        order=paid_order,
        amount=500,
        currency="gbp",
        reason="duplicate",
        stripe_refund_id="re_first",
        status=RefundRequest.Status.SUCCEEDED,
    )
    copied = {
        "id": "re_copied_metadata",
        "object": "refund",
        "amount": 500,
        "currency": "gbp",
        "status": "failed",
        "payment_intent": paid_order.payment_intent_id,
        "metadata": {"refund_request": str(answered.pk)},
    }
    process(event("refund.failed", copied))
    answered.refresh_from_db()
    assert (answered.stripe_refund_id, answered.status) == ("re_first", "succeeded")


def test_a_charge_disputed_at_stripe_before_we_hear_of_it_fails_the_request(
    emulator: Any, finance: User
) -> None:
    # given a payment whose chargeback has not reached us yet
    order = paid_at_stripe(emulator, card="pm_card_createDispute")
    assert not Dispute.objects.exists()
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=order, amount=None, reason="fraudulent", requested_by=finance)
    # then staff are told to answer the dispute, and nothing is refunded
    assert str(refused.value) == ERROR_DISPUTED.format(number=order.number)
    request = RefundRequest.objects.get()
    assert (request.status, request.failure_reason) == (RefundRequest.Status.FAILED, "charge_disputed")
    assert stripe_refunds(emulator, order) == []
    action = StaffAction.objects.get(action="refund")
    assert (action.actor, action.target, action.reason) == (finance, order.number, "fraudulent")
    assert action.outcome == "refused by Stripe: charge_disputed, £42.00"
    order.refresh_from_db()
    assert order.amount_refunded == 0


def test_a_refund_made_in_the_dashboard_first_is_refused_by_stripe_with_its_code(
    emulator: Any, paid_order: Order, finance: User
) -> None:
    # given the whole payment was refunded in the Dashboard, and its webhook has not come yet
    emulator.client().v1.refunds.create(params={"payment_intent": paid_order.payment_intent_id})
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=paid_order, amount=500, reason="duplicate", requested_by=finance)
    assert str(refused.value) == ERROR_STRIPE_REFUSED.format(
        number=paid_order.number, code="charge_already_refunded"
    )
    request = RefundRequest.objects.get()
    assert (request.status, request.failure_reason) == ("failed", "charge_already_refunded")
    assert len(stripe_refunds(emulator, paid_order)) == 1
    assert (
        StaffAction.objects.get(action="refund").outcome
        == "refused by Stripe: charge_already_refunded, £5.00"
    )


def test_a_refusal_without_a_code_is_named_refused(emulator: Any, finance: User) -> None:
    # given an order we hold as paid whose PaymentIntent Stripe has not charged
    unpaid = emulator.client().v1.payment_intents.create(params={"amount": 4200, "currency": "gbp"})
    order = OrderFactory(status=Order.Status.PAID, payment_intent_id=unpaid.id)
    with pytest.raises(RefundRefused) as refused:
        refund_request_create(order=order, amount=None, reason="duplicate", requested_by=finance)
    assert str(refused.value) == ERROR_STRIPE_REFUSED.format(number=order.number, code="refused")
    assert RefundRequest.objects.get().failure_reason == "refused"
