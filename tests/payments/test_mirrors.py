"""The PaymentIntent and Charge mirrors: every attempt is a row, kept from events and from the
server's own fetches through one forward-only sync service per object."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from django.test import Client, TestCase

from orders.models import Order, Product
from payments.models import Charge, PaymentIntent, StripeEvent
from payments.services import checkout as checkout_services
from payments.services.events.recovery import stripe_event_recover
from payments.services.mirrors import SnapshotInvalid, charge_sync, payment_intent_sync
from payments.services.objects import stripe_object_resync
from tests.factories import OrderFactory, charge, event, payment_intent, stored_event
from tests.orders.checkout_support import (  # noqa: F401  (fixtures)
    add_to_cart,
    catalog_fixture,
    place,
    shop_fixture,
)

pytestmark = pytest.mark.django_db

Process = Callable[..., StripeEvent]
T0 = int(time.time()) - 600


@pytest.fixture
def no_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkout_services, "SYNC_INTERVAL", timedelta(0))


def confirm(emulator: Any, order: Order, payment_method: str) -> dict[str, Any] | None:
    """What Stripe.js does when the customer presses Pay; returns the card error, if any."""
    order.refresh_from_db()
    try:
        emulator.client().v1.payment_intents.confirm(
            order.payment_intent_id,
            {
                "payment_method": payment_method,
                "return_url": f"http://testserver/orders/{order.public_token}/",
            },
        )
    except stripe.CardError as error:
        return {"code": error.code, "decline_code": getattr(error.error, "decline_code", None)}
    return None


def declined_twice_then_paid_with_3ds(
    client: Client, shop: Any, catalog: dict[str, Product], *, return_pages: bool = True
) -> Order:
    """The customer's card steps on our payment page, as Stripe.js plays them: insufficient
    funds, an expired card, then a 3-D Secure card whose challenge they complete. After each
    attempt the browser lands on the order page (the return page), unless `return_pages` is
    False (the tab was closed each time)."""
    add_to_cart(client, catalog["POSTER"], 1)
    order = place(client)
    for card, decline_code in (
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
    ):
        error = confirm(shop, order, card)
        assert error is not None and error["decline_code"] == decline_code
        if return_pages:
            assert client.get(f"/orders/{order.public_token}/").status_code == 200
    assert confirm(shop, order, "pm_card_threeDSecure2Required") is None
    shop.complete_3ds(order.payment_intent_id)
    if return_pages:
        assert client.get(f"/orders/{order.public_token}/").status_code == 200
    order.refresh_from_db()
    return order


def assert_three_attempts_mirrored(order: Order) -> None:
    attempts = {ch.failure_code or ch.status: ch for ch in Charge.objects.filter(order=order)}
    assert sorted(attempts) == ["card_declined", "expired_card", "succeeded"]
    insufficient, expired, paid = attempts["card_declined"], attempts["expired_card"], attempts["succeeded"]
    # the declines, with the issuer's reasons staff and disputes need
    assert (insufficient.status, insufficient.paid, insufficient.outcome_reason) == (
        "failed",
        False,
        "insufficient_funds",
    )
    assert insufficient.failure_message == "Your card has insufficient funds."
    assert insufficient.outcome_type == "issuer_declined"
    assert (expired.status, expired.outcome_reason) == ("failed", "expired_card")
    assert not insufficient.balance_transaction_id and not expired.balance_transaction_id
    # the payment, with its 3-D Secure outcome (evidence for a fraud dispute)
    assert (paid.status, paid.paid, paid.captured) == ("succeeded", True, True)
    assert (paid.amount, paid.amount_captured, paid.currency) == (order.amount, order.amount, "gbp")
    assert paid.balance_transaction_id.startswith("txn_")
    assert (paid.outcome_network_status, paid.outcome_type) == ("approved_by_network", "authorized")
    assert (paid.card_brand, paid.card_last4, paid.card_country) == ("visa", "3220", "IE")
    assert paid.card_fingerprint and paid.card_exp_year
    assert paid.three_d_secure_result == "authenticated"
    assert paid.three_d_secure_authentication_flow == "challenge"
    assert paid.three_d_secure_version == "2.2.0"
    assert paid.three_d_secure_electronic_commerce_indicator == "05"
    assert not insufficient.three_d_secure_result
    # all three are attempts of the order's one PaymentIntent
    mirror = PaymentIntent.objects.get(stripe_id=order.payment_intent_id)
    assert {ch.payment_intent_id for ch in attempts.values()} == {mirror.pk}
    assert (mirror.order_id, mirror.status, mirror.amount_received) == (order.pk, "succeeded", order.amount)
    assert mirror.latest_charge_id == paid.stripe_id
    assert mirror.customer_id == order.stripe_customer_id
    assert (
        mirror.idempotency_key
        == order.payment_intent_idempotency_key
        == f"order:{order.pk}:payment-intent:v1"
    )
    assert mirror.capture_method
    assert not (mirror.last_error_code or mirror.last_error_decline_code)
    assert mirror.synced_at is not None and mirror.stripe_created is not None
    # and no personal data left the order
    for ch in attempts.values():
        values = " ".join(str(value) for value in Charge.objects.filter(pk=ch.pk).values().get().values())
        assert order.email not in values and order.name not in values


def test_an_order_declined_twice_then_paid_has_three_charges_from_its_return_pages(
    client: Client, shop: Any, catalog: dict[str, Product], no_rate_limit: None
) -> None:
    # when the customer fails twice and then pays, and no webhook reaches us
    order = declined_twice_then_paid_with_3ds(client, shop, catalog)
    # then the return pages' own fetches (latest charge expanded) mirrored every attempt
    assert order.status == Order.Status.FULFILLED
    assert not StripeEvent.objects.exists()
    assert_three_attempts_mirrored(order)


def test_an_order_declined_twice_then_paid_has_three_charges_from_its_events_in_any_order(
    client: Client, shop: Any, catalog: dict[str, Product], process: Process
) -> None:
    # given the customer's attempts, with no return page: only checkout's own first snapshot
    order = declined_twice_then_paid_with_3ds(client, shop, catalog, return_pages=False)
    assert not Charge.objects.exists()
    # when Stripe's events arrive shuffled, some twice
    with TestCase.captureOnCommitCallbacks(execute=True):
        stripe_event_recover()
    rows = list(StripeEvent.objects.all())
    types = {row.type for row in rows}
    assert {
        "charge.failed",
        "charge.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
    } <= types
    random.Random(7).shuffle(rows)
    for row in rows + rows[:3]:
        process(row)
    # then every attempt is a row, in the state of its newest snapshot
    payments = StripeEvent.objects.filter(type__regex=r"^(payment_intent|charge)\.")
    assert {row.status for row in payments} == {StripeEvent.Status.PROCESSED}
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert_three_attempts_mirrored(order)


# ---------------------------------------------------------------------------- forward only


def test_a_stale_payment_intent_snapshot_never_moves_the_mirror_back() -> None:
    order = OrderFactory()
    assert payment_intent_sync(obj=payment_intent(order), source="evt_paid", order=order, seen_at=T0 + 5)
    # an older requires_action, a repeat of the same failure, even a newer processing
    for status, at in (("requires_action", T0 + 1), ("processing", T0 + 9)):
        assert not payment_intent_sync(
            obj=payment_intent(order, status=status), source="evt_old", order=order, seen_at=at
        )
    mirror = PaymentIntent.objects.get()
    assert (mirror.status, mirror.status_at, mirror.latest_charge_id) == (
        "succeeded",
        T0 + 5,
        f"ch_for_{order.payment_intent_id}",
    )


def test_among_attempts_the_newer_snapshot_wins_whatever_arrives_first() -> None:
    order = OrderFactory()
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Insufficient funds."}
    failed = payment_intent(order, status="requires_payment_method", last_payment_error=error)
    retry = payment_intent(order, status="requires_action")
    # the retry's snapshot (newer) arrives before the failure's
    assert payment_intent_sync(obj=retry, source="evt_2", order=order, seen_at=T0 + 2)
    assert not payment_intent_sync(obj=failed, source="evt_1", order=order, seen_at=T0 + 1)
    mirror = PaymentIntent.objects.get()
    assert (mirror.status, mirror.last_error_decline_code) == ("requires_action", "")
    # and a newer failure does win over it
    assert payment_intent_sync(obj=failed, source="evt_3", order=order, seen_at=T0 + 3)
    mirror.refresh_from_db()
    assert (mirror.status, mirror.last_error_code, mirror.last_error_decline_code) == (
        "requires_payment_method",
        "card_declined",
        "insufficient_funds",
    )
    assert mirror.last_error_message == "Insufficient funds."


def test_a_refunded_then_disputed_charge_keeps_its_newest_snapshot() -> None:
    order = OrderFactory()
    succeeded = charge(order, amount_captured=order.amount, captured=True, balance_transaction="txn_1")
    refunded = {**succeeded, "amount_refunded": 1000}
    disputed = {**refunded, "disputed": True}
    assert charge_sync(obj=disputed, source="fetch", order=order, seen_at=T0 + 9)
    assert not charge_sync(obj=refunded, source="evt_refunded", order=order, seen_at=T0 + 6)
    assert not charge_sync(obj=succeeded, source="evt_succeeded", order=order, seen_at=T0 + 5)
    mirror = Charge.objects.get()
    assert (mirror.amount_refunded, mirror.disputed, mirror.refunded) == (1000, True, False)
    assert mirror.balance_transaction_id == "txn_1"
    # a full refund, later
    assert charge_sync(
        obj={**disputed, "amount_refunded": order.amount, "refunded": True}, source="x", seen_at=T0 + 10
    )
    mirror.refresh_from_db()
    assert (mirror.amount_refunded, mirror.refunded, mirror.order_id) == (order.amount, True, order.pk)


def test_a_charge_that_arrives_before_its_payment_intent_is_linked_when_it_comes(process: Process) -> None:
    order = OrderFactory()
    process(event("charge.succeeded", charge(order), created=T0 + 5))
    assert Charge.objects.get().payment_intent is None
    process(event("payment_intent.succeeded", payment_intent(order), created=T0 + 5))
    mirror = Charge.objects.select_related("payment_intent").get()
    assert mirror.payment_intent is not None and mirror.payment_intent.stripe_id == order.payment_intent_id
    assert mirror.order == order == mirror.payment_intent.order


def test_a_payment_intent_links_only_the_charges_that_wait_for_it() -> None:
    # given charges mirrored before their PaymentIntents, of two orders
    order, other = OrderFactory(), OrderFactory()
    charge_sync(obj=charge(order), source="test", seen_at=T0)
    charge_sync(obj=charge(other), source="test", seen_at=T0)
    # when one order's PaymentIntent comes
    payment_intent_sync(obj=payment_intent(order), source="test", order=order, seen_at=T0)
    # then its charge is linked to it, and the other order's still waits for its own
    linked = dict(Charge.objects.values_list("stripe_id", "payment_intent__stripe_id"))
    assert linked == {
        f"ch_for_{order.payment_intent_id}": order.payment_intent_id,
        f"ch_for_{other.payment_intent_id}": None,
    }


def test_an_expanded_latest_charge_is_mirrored_as_of_its_payment_intents_snapshot() -> None:
    order = OrderFactory()
    expanded = payment_intent(order, latest_charge={**charge(order), "amount_captured": None})
    payment_intent_sync(obj=expanded, source="evt_1", order=order, seen_at=T0)
    mirror = Charge.objects.get()
    # the event's time, not the moment we read it; and no amount captured is nothing captured
    assert (mirror.status_at, mirror.amount_captured) == (T0, 0)


def test_objects_of_no_order_of_ours_are_mirrored_and_the_event_still_ignored(process: Process) -> None:
    stranger = OrderFactory.build(pk=987654, payment_intent_id="pi_dashboard_made")
    row = process(event("payment_intent.succeeded", payment_intent(stranger, metadata={})))
    assert row.status == StripeEvent.Status.IGNORED
    mirror = PaymentIntent.objects.get()
    assert (mirror.stripe_id, mirror.order, mirror.idempotency_key) == ("pi_dashboard_made", None, "")


def test_an_incomplete_snapshot_is_not_mirrored_and_the_payment_still_applies(process: Process) -> None:
    order = OrderFactory()
    row = process(event("charge.succeeded", {**charge(order), "amount": None}))
    assert row.status == StripeEvent.Status.PROCESSED
    assert not Charge.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_charge_updated_changes_the_mirror_and_not_the_order(process: Process) -> None:
    # given an order whose first attempt failed and whose retry now waits for 3-D Secure
    order = OrderFactory()
    failed = charge(order, id="ch_first", status="failed", outcome={"reason": "insufficient_funds"})
    process(event("charge.failed", failed, created=T0 + 1))
    process(
        event(
            "payment_intent.requires_action", payment_intent(order, status="requires_action"), created=T0 + 2
        )
    )
    # when the failed charge's metadata changes later
    process(event("charge.updated", {**failed, "metadata": {"note": "x"}, "disputed": False}, created=T0 + 3))
    # then the order still waits for the retry, and the mirror has the newer snapshot
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert Charge.objects.get(stripe_id="ch_first").status_at == T0 + 3


def test_staff_resync_fetches_the_payment_intent_and_its_latest_charge(pay: Callable[..., str]) -> None:
    # given an order paid at Stripe whose events we never received
    order = OrderFactory(payment_intent_id=None)
    pi_id = pay(order)
    # when staff re-sync it
    stripe_object_resync(object_id=pi_id)
    # then both mirrors are filled from the one fetch
    mirror = PaymentIntent.objects.get(stripe_id=pi_id)
    assert (mirror.status, mirror.order_id) == ("succeeded", order.pk)
    paid = Charge.objects.get(stripe_id=mirror.latest_charge_id)
    assert (paid.status, paid.payment_intent_id, paid.order_id) == ("succeeded", mirror.pk, order.pk)
    assert paid.balance_transaction_id.startswith("txn_")


def test_the_mirror_remembers_the_key_the_payment_intent_was_created_with(process: Process) -> None:
    order = OrderFactory()
    stored = stored_event(
        event("payment_intent.created", payment_intent(order, status="requires_payment_method"))
    )
    process(stored)
    assert PaymentIntent.objects.get().idempotency_key == f"order:{order.pk}:payment-intent:v1"


@pytest.mark.parametrize("created_as", ["requires_confirmation", "requires_payment_method"])
def test_a_payment_intent_created_in_the_second_of_its_decline_undoes_nothing(
    process: Process, created_as: str
) -> None:
    # given a PaymentIntent created and declined within one second (confirm=true, or a fast card)
    order = OrderFactory()
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Insufficient funds."}
    failed = payment_intent(order, status="requires_payment_method", last_payment_error=error)
    process(event("payment_intent.payment_failed", failed, created=T0))
    # when its payment_intent.created (with the card not yet confirmed, or with no card yet) arrives last
    created = payment_intent(order, status=created_as)
    row = process(event("payment_intent.created", created, created=T0))
    # then the order and the mirror still say declined
    assert row.status == StripeEvent.Status.PROCESSED
    order.refresh_from_db()
    assert (order.status, order.last_decline_code) == (Order.Status.PAYMENT_FAILED, "insufficient_funds")
    mirror = PaymentIntent.objects.get()
    assert (mirror.status, mirror.last_error_decline_code) == (
        "requires_payment_method",
        "insufficient_funds",
    )


def test_a_charge_refunded_in_the_second_it_succeeded_keeps_its_refund(process: Process) -> None:
    order = OrderFactory()
    process(event("charge.refunded", charge(order, amount_refunded=order.amount, refunded=True), created=T0))
    process(event("charge.succeeded", charge(order), created=T0))
    mirror = Charge.objects.get()
    assert (mirror.amount_refunded, mirror.refunded) == (order.amount, True)


def test_a_charge_mirror_keeps_its_mode_its_stripe_time_and_the_card_expiry_staff_see() -> None:
    # given a live-mode payment (a `py_` id: a non-card method's charge) made at T0
    order = OrderFactory()
    card = {"last4": "4242", "brand": "visa", "exp_month": 0, "exp_year": 32767}
    obj = charge(order, id="py_live_1", livemode=True, created=T0, payment_method_details={"card": card})
    # when it is mirrored
    assert charge_sync(obj=obj, source="fetch", order=order, seen_at=T0 + 1)
    # then the row says it is live, when Stripe made it, and the card's expiry as Stripe gave it
    mirror = Charge.objects.get(stripe_id="py_live_1")
    assert mirror.livemode is True
    assert mirror.stripe_created is not None and int(mirror.stripe_created.timestamp()) == T0
    assert (mirror.card_exp_month, mirror.card_exp_year) == (0, 32767)
    assert mirror.payment_intent_stripe_id == order.payment_intent_id


@pytest.mark.parametrize("exp_year", [-1, 32768])
def test_a_card_expiry_out_of_range_is_left_blank_and_the_charge_still_mirrored(exp_year: int) -> None:
    order = OrderFactory()
    card = {"last4": "4242", "exp_month": 12, "exp_year": exp_year}
    assert charge_sync(obj=charge(order, payment_method_details={"card": card}), source="x", seen_at=T0)
    assert Charge.objects.values_list("card_exp_month", "card_exp_year").get() == (12, None)


def test_an_overlong_payment_intent_id_on_a_charge_is_cut_to_the_column() -> None:
    order = OrderFactory()
    long_id = "pi_" + "x" * 300
    assert charge_sync(obj=charge(order, payment_intent=long_id), source="x", seen_at=T0)
    assert Charge.objects.get().payment_intent_stripe_id == long_id[:255]


def _long(name: str) -> str:
    """A text Stripe could send longer than our column: its own name first, so each is told apart."""
    return f"{name}:" + "x" * 6000


def test_every_text_of_a_charge_is_mirrored_cut_to_its_column() -> None:
    # given a charge whose every text is longer than the column that keeps it
    order = OrderFactory()
    three_ds_keys = ("result", "result_reason", "authentication_flow", "version")
    three_ds = {key: _long(key) for key in (*three_ds_keys, "electronic_commerce_indicator")}
    card = {key: _long(key) for key in ("brand", "last4", "country", "funding", "fingerprint")}
    obj = charge(
        order,
        status="failed",
        failure_code=_long("failure_code"),
        failure_message=_long("failure_message"),
        balance_transaction=_long("txn"),
        payment_method=_long("pm"),
        outcome={key: _long(key) for key in ("network_status", "reason", "risk_level", "type")},
        payment_method_details={"card": {**card, "three_d_secure": three_ds}},
    )
    # when it is mirrored
    assert charge_sync(obj=obj, source="fetch", order=order, seen_at=T0)
    # then each text is kept as far as its column goes, in its own column
    cut = {
        "failure_code": ("failure_code", 64),
        "failure_message": ("failure_message", 5000),
        "balance_transaction_id": ("txn", 255),
        "payment_method_id": ("pm", 255),
        "outcome_network_status": ("network_status", 64),
        "outcome_reason": ("reason", 64),
        "outcome_risk_level": ("risk_level", 32),
        "outcome_type": ("type", 64),
        "card_brand": ("brand", 32),
        "card_last4": ("last4", 4),
        "card_country": ("country", 2),
        "card_funding": ("funding", 16),
        "card_fingerprint": ("fingerprint", 64),
        "three_d_secure_result": ("result", 64),
        "three_d_secure_result_reason": ("result_reason", 64),
        "three_d_secure_authentication_flow": ("authentication_flow", 32),
        "three_d_secure_version": ("version", 16),
        "three_d_secure_electronic_commerce_indicator": ("electronic_commerce_indicator", 4),
    }
    row = Charge.objects.filter(stripe_id=obj["id"]).values(*cut).get()
    assert row == {column: _long(name)[:length] for column, (name, length) in cut.items()}


def test_every_text_of_a_payment_intent_is_mirrored_cut_to_its_column() -> None:
    # given a declined PaymentIntent whose every text is longer than the column that keeps it
    order = OrderFactory()
    error = {key: _long(key) for key in ("code", "decline_code", "message")}
    obj = payment_intent(
        order,
        status="requires_payment_method",
        customer=_long("cus"),
        capture_method=_long("capture_method"),
        latest_charge=_long("ch"),
        last_payment_error=error,
    )
    # when it is mirrored
    assert payment_intent_sync(obj=obj, source="fetch", order=order, seen_at=T0)
    # then each text is kept as far as its column goes, in its own column
    cut = {
        "customer_id": ("cus", 255),
        "capture_method": ("capture_method", 32),
        "latest_charge_id": ("ch", 255),
        "last_error_code": ("code", 64),
        "last_error_decline_code": ("decline_code", 64),
        "last_error_message": ("message", 5000),
    }
    row = PaymentIntent.objects.filter(stripe_id=obj["id"]).values(*cut).get()
    assert row == {column: _long(name)[:length] for column, (name, length) in cut.items()}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("object", "payment_intent"),
        ("id", None),
        ("id", "pi_not_a_charge"),
        ("id", "ch_" + "x" * 253),  # 256 characters: longer than the column
        ("status", "some_future_status"),
        ("amount", None),
        ("amount", "4200"),
        ("amount", -1),
        ("currency", None),
        ("currency", "gb"),
        ("currency", "gbpx"),
        ("currency", "g8p"),
    ],
)
def test_an_incomplete_charge_snapshot_is_refused_naming_its_id_and_mirrors_nothing(
    field: str, value: Any
) -> None:
    order = OrderFactory()
    obj = {**charge(order), field: value}
    with pytest.raises(SnapshotInvalid) as refused:
        charge_sync(obj=obj, source="fetch", order=order, seen_at=T0)
    assert str(refused.value) == f"not a complete charge snapshot: {str(obj['id'])[:64]!r}"
    assert not Charge.objects.exists()


def test_a_snapshot_at_the_edges_of_what_is_complete_is_mirrored() -> None:
    # given a charge with the longest id the column holds, an amount of zero and an upper-case
    # currency, and a PaymentIntent of the same kind
    order = OrderFactory()
    long_id = "py_" + "x" * 252
    edge = {**charge(order), "id": long_id, "amount": 0, "currency": "GBP"}
    intent = {**payment_intent(order), "amount": 0, "currency": "GBP"}
    # when they are mirrored
    assert charge_sync(obj=edge, source="fetch", order=order, seen_at=T0)
    assert payment_intent_sync(obj=intent, source="fetch", order=order, seen_at=T0)
    # then both are kept, the currency as Stripe's lower-case code
    assert Charge.objects.values_list("stripe_id", "amount", "currency").get() == (long_id, 0, "gbp")
    assert PaymentIntent.objects.values_list("amount", "currency").get() == (0, "gbp")


@pytest.mark.parametrize(("field", "value"), [("object", "charge"), ("id", "ch_1"), ("status", "failed")])
def test_an_incomplete_payment_intent_snapshot_is_refused_and_mirrors_nothing(field: str, value: Any) -> None:
    order = OrderFactory()
    obj = {**payment_intent(order), field: value}
    with pytest.raises(SnapshotInvalid) as refused:
        payment_intent_sync(obj=obj, source="fetch", order=order, seen_at=T0)
    assert str(refused.value) == f"not a complete payment_intent snapshot: {str(obj['id'])[:64]!r}"
    assert not PaymentIntent.objects.exists()


@pytest.mark.parametrize(
    ("order_fields", "keeps_key"),
    [
        ({}, True),  # the order's own PaymentIntent
        ({"payment_intent_id": None}, True),  # not linked yet: ours is the first
        ({"payment_intent_id": ""}, True),
        ({"payment_intent_id": "pi_another"}, False),  # the order pays with another one
        ({"checkout_session_id": "cs_test_1"}, False),  # Stripe Checkout made it, with its own key
    ],
    ids=["linked", "unlinked", "blank", "another", "checkout"],
)
def test_the_mirror_keeps_our_creation_key_only_for_a_payment_intent_we_created(
    order_fields: dict[str, Any], keeps_key: bool
) -> None:
    # given an order and a PaymentIntent snapshot for it
    order = OrderFactory()
    obj = payment_intent(order, status="requires_payment_method")
    for name, value in order_fields.items():
        setattr(order, name, value)
    # when it is mirrored for that order
    assert payment_intent_sync(obj=obj, source="fetch", order=order, seen_at=T0)
    # then the key staff see is the one our request used, or none when the request was not ours
    expected = f"order:{order.pk}:payment-intent:v1" if keeps_key else ""
    assert PaymentIntent.objects.get(stripe_id=obj["id"]).idempotency_key == expected


def test_a_payment_intent_mirror_keeps_stripes_mode_time_and_a_sane_amount_received() -> None:
    # given a live PaymentIntent snapshot whose amount received is nonsense and its customer expanded
    order = OrderFactory()
    obj = payment_intent(
        order, livemode=True, created=T0, amount_received=-5, customer={"id": "cus_1", "object": "customer"}
    )
    # when it is mirrored
    assert payment_intent_sync(obj=obj, source="fetch", order=order, seen_at=T0 + 1)
    # then
    mirror = PaymentIntent.objects.get()
    assert (mirror.livemode, mirror.amount_received, mirror.customer_id) == (True, 0, "cus_1")
    assert mirror.stripe_created is not None and int(mirror.stripe_created.timestamp()) == T0
    assert (mirror.status_at, mirror.order_id) == (T0 + 1, order.pk)


@pytest.mark.parametrize("created", [0, -1, True, "1700000000", None])
def test_a_stripe_time_that_is_not_a_positive_integer_is_left_blank(created: Any) -> None:
    order = OrderFactory()
    assert charge_sync(obj=charge(order, created=created), source="x", seen_at=T0)
    assert Charge.objects.get().stripe_created is None


def test_the_first_second_of_stripe_time_is_a_time() -> None:
    order = OrderFactory()
    assert charge_sync(obj=charge(order, created=1), source="x", seen_at=T0)
    assert Charge.objects.get().stripe_created == datetime.fromtimestamp(1, tz=UTC)


def test_an_expanded_object_without_an_id_links_nothing() -> None:
    order = OrderFactory()
    obj = payment_intent(order, customer={"object": "customer"}, latest_charge={"object": "list"})
    assert payment_intent_sync(obj=obj, source="x", order=order, seen_at=T0)
    assert PaymentIntent.objects.values_list("customer_id", "latest_charge_id").get() == ("", "")


@pytest.mark.parametrize("amount_refunded", [True, "100", None, -100, 100.0])
def test_an_amount_that_is_not_a_whole_positive_number_counts_as_zero(amount_refunded: Any) -> None:
    order = OrderFactory()
    assert charge_sync(obj=charge(order, amount_refunded=amount_refunded), source="x", seen_at=T0)
    assert Charge.objects.get().amount_refunded == 0
