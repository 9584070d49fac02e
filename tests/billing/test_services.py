"""The Subscription and Invoice mirrors (`subscription_sync`, `invoice_sync`) from Stripe-shaped
snapshots: what the account page, the dunning emails and staff read, and that a mirror never
moves backwards. Plain dicts, no emulator: these run in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import DunningNotice, Invoice, Plan, Subscriber, Subscription
from billing.services import (
    BillingUnavailable,
    billing_refresh,
    billing_resync,
    dunning_notice_record,
    dunning_notice_send,
    dunning_notices_send_missed,
    invoice_payment_step,
    invoice_sync,
    plan_price_ensure,
    subscriber_card_apply,
    subscriber_create,
    subscriber_setup_intent,
    subscriber_subscribe,
    subscriber_welcome_send,
    subscription_cancel_at_period_end,
    subscription_sync,
)
from payments import stripe_gateway

pytestmark = pytest.mark.django_db

T0 = 1_780_000_000
DAY = 86400
SITE = "https://shop.example/"  # the trailing slash is not doubled in the emails' links


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _subscription_obj(**over: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "sub_1",
        "object": "subscription",
        "status": "active",
        "customer": "cus_1",
        "livemode": False,
        "created": T0,
        "currency": "gbp",
        "cancel_at_period_end": False,
        "ended_at": None,
        "latest_invoice": "in_1",
        "default_payment_method": "pm_1",
        "metadata": {},
        "items": {
            "data": [
                {
                    "price": {"id": "price_1", "unit_amount": 900, "currency": "gbp"},
                    "quantity": 1,
                    "current_period_start": T0,
                    "current_period_end": T0 + 30 * DAY,
                }
            ]
        },
    }
    obj.update(over)
    return obj


def _invoice_obj(**over: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "number": "RR-0001",
        "status": "open",
        "billing_reason": "subscription_cycle",
        "amount_due": 900,
        "amount_paid": 0,
        "currency": "gbp",
        "attempt_count": 1,
        "next_payment_attempt": T0 + DAY,
        "lines": {"data": [{"period": {"start": T0, "end": T0 + 30 * DAY}}]},
        "status_transitions": {"paid_at": None},
        "parent": {"subscription_details": {"subscription": "sub_1"}},
        "livemode": False,
        "created": T0,
    }
    obj.update(over)
    return obj


@pytest.fixture
def subscriber(plan: Plan, settings: Any) -> Subscriber:
    settings.SITE_URL = SITE
    return Subscriber.objects.create(plan=plan, email="ada@example.com")


# ---------------------------------------------------------------------------- subscription


def test_a_new_subscription_mirrors_every_field_the_account_page_and_staff_read(
    subscriber: Subscriber,
) -> None:
    # given a snapshot with expanded objects, three seats, and a price in another currency
    obj = _subscription_obj(
        customer={"id": "cus_9", "object": "customer"},
        livemode=True,
        cancel_at_period_end=True,
        ended_at=T0 + 5,
        latest_invoice={"id": "in_9", "object": "invoice"},
        default_payment_method={"id": "pm_9", "object": "payment_method"},
        metadata={"subscriber": str(subscriber.pk)},
    )
    obj["items"]["data"][0]["quantity"] = 3
    obj["items"]["data"][0]["price"]["currency"] = "eur"
    # when it is synced
    result = subscription_sync(obj=obj)
    # then every field is mirrored (aware times, minor units times the quantity)
    sub = result.subscription
    assert (result.changed, result.previous_status) == (True, "")
    expected = {
        "stripe_id": "sub_1",
        "status": "active",
        "customer_id": "cus_9",
        "price_id": "price_1",
        "amount": 2700,
        "currency": "eur",
        "cancel_at_period_end": True,
        "livemode": True,
        "stripe_created": _at(T0),
        "current_period_start": _at(T0),
        "current_period_end": _at(T0 + 30 * DAY),
        "ended_at": _at(T0 + 5),
        "latest_invoice_id": "in_9",
        "default_payment_method": "pm_9",
        "subscriber_id": subscriber.pk,
    }
    assert {name: getattr(sub, name) for name in expected} == expected
    assert sub.synced_at is not None
    stored = Subscription.objects.get()
    assert {name: getattr(stored, name) for name in expected} == expected


def test_a_bare_subscription_snapshot_falls_back_to_defaults(db: Any) -> None:
    # one seat when no quantity is given, the subscription's currency when the price has none
    obj = _subscription_obj(latest_invoice=None, default_payment_method=None, currency="usd")
    del obj["items"]["data"][0]["quantity"]
    del obj["items"]["data"][0]["price"]["currency"]
    sub = subscription_sync(obj=obj).subscription
    assert (sub.amount, sub.currency, sub.customer_id) == (900, "usd", "cus_1")
    assert (sub.latest_invoice_id, sub.default_payment_method, sub.subscriber_id) == ("", "", None)
    assert (sub.cancel_at_period_end, sub.livemode, sub.ended_at) == (False, False, None)


def test_a_subscription_without_items_or_price_amount_is_zero(db: Any) -> None:
    sub = subscription_sync(obj=_subscription_obj(id="sub_2", items=None)).subscription
    assert (sub.amount, sub.price_id, sub.currency) == (0, "", "gbp")
    assert (sub.current_period_start, sub.current_period_end) == (None, None)
    obj = _subscription_obj(id="sub_3", currency=None, items={"data": [{"price": {"id": "price_x"}}]})
    sub = subscription_sync(obj=obj).subscription
    assert (sub.amount, sub.price_id, sub.currency) == (0, "price_x", "")


@pytest.mark.parametrize("metadata", [{}, {"subscriber": "abc"}, {"subscriber": "999999"}, None])
def test_a_subscription_for_no_known_subscriber_is_mirrored_without_one(
    subscriber: Subscriber, metadata: Any
) -> None:
    sub = subscription_sync(obj=_subscription_obj(metadata=metadata)).subscription
    assert sub.subscriber_id is None
    assert Subscription.objects.get().subscriber_id is None


@pytest.mark.parametrize(("status", "named"), [("frozen", "'frozen'"), (None, "''")])
def test_an_unknown_subscription_status_is_refused_and_nothing_is_written(
    db: Any, status: str | None, named: str
) -> None:
    # the message (on the event row, for staff) names what Stripe sent: nothing, if no status
    with pytest.raises(ValueError) as refused:
        subscription_sync(obj=_subscription_obj(status=status))
    assert str(refused.value) == f"unknown subscription status {named}"
    assert not Subscription.objects.exists()


def test_a_newer_subscription_snapshot_is_applied_and_reports_what_changed(db: Any) -> None:
    first = subscription_sync(obj=_subscription_obj(), seen_at_ms=1000).subscription
    result = subscription_sync(
        obj=_subscription_obj(status="past_due", cancel_at_period_end=True), seen_at_ms=2000
    )
    assert (result.changed, result.previous_status, result.subscription.status) == (
        True,
        "active",
        "past_due",
    )
    stored = Subscription.objects.get()
    assert (stored.status, stored.cancel_at_period_end, stored.status_at) == ("past_due", True, 2000)
    assert stored.synced_at is not None and first.synced_at is not None
    assert stored.synced_at >= first.synced_at
    # the same snapshot again (at the same time): applied, nothing changed
    again = subscription_sync(
        obj=_subscription_obj(status="past_due", cancel_at_period_end=True), seen_at_ms=2000
    )
    assert (again.changed, again.previous_status) == (False, "past_due")


def test_an_older_subscription_snapshot_changes_nothing(db: Any) -> None:
    subscription_sync(obj=_subscription_obj(), seen_at_ms=2000)
    result = subscription_sync(obj=_subscription_obj(status="past_due"), seen_at_ms=1999)
    assert (result.changed, result.previous_status) == (False, "active")
    stored = Subscription.objects.get()
    assert (stored.status, stored.status_at) == ("active", 2000)


def test_a_snapshot_at_the_same_time_is_applied(db: Any) -> None:
    subscription_sync(obj=_subscription_obj(), seen_at_ms=2000)
    subscription_sync(obj=_subscription_obj(status="past_due"), seen_at_ms=2000)
    assert Subscription.objects.get().status == "past_due"


def _read_misses(monkeypatch: pytest.MonkeyPatch, model: type[Subscription] | type[Invoice]) -> None:
    """The sync's first locked read finds nothing, as when another worker inserts the row just
    after that read: the sync's own insert then hits the unique stripe_id."""
    real = model.objects.select_for_update
    misses = [model.objects.none()]
    monkeypatch.setattr(model.objects, "select_for_update", lambda: misses.pop() if misses else real())


def test_a_subscription_another_worker_inserted_first_gets_the_newer_snapshot(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given another worker's mirror (incomplete) inserted after this sync's read missed it
    subscription_sync(obj=_subscription_obj(status="incomplete"), seen_at_ms=1000)
    _read_misses(monkeypatch, Subscription)
    # when this worker's newer snapshot is synced
    result = subscription_sync(obj=_subscription_obj(), seen_at_ms=2000)
    # then it is applied to that row, as an update of it
    assert (result.changed, result.previous_status) == (True, "incomplete")
    stored = Subscription.objects.get()
    assert (stored.pk, stored.status, stored.status_at) == (result.subscription.pk, "active", 2000)


@pytest.mark.parametrize("terminal", ["canceled", "incomplete_expired"])
def test_an_ended_subscription_never_comes_back(db: Any, terminal: str) -> None:
    subscription_sync(obj=_subscription_obj(status=terminal), seen_at_ms=1000)
    result = subscription_sync(obj=_subscription_obj(), seen_at_ms=2000)
    assert (result.changed, result.previous_status, result.subscription.status) == (False, terminal, terminal)
    assert Subscription.objects.get().status == terminal


def test_a_fresh_fetch_wins_over_a_snapshot_stamped_earlier_in_stripe_time(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fixed clock, in seconds as time.time() gives it; the mirror keeps milliseconds
    monkeypatch.setattr(services.time, "time", lambda: 1_780_000_000.25)
    subscription_sync(obj=_subscription_obj(status="past_due"), seen_at_ms=1_779_999_999_000)
    result = subscription_sync(obj=_subscription_obj())
    assert result.subscription.status == "active"
    assert Subscription.objects.get().status_at == 1_780_000_000_250


def test_the_welcome_email_goes_once_when_a_subscriber_s_subscription_becomes_active(
    subscriber: Subscriber, eager: None
) -> None:
    obj = _subscription_obj(metadata={"subscriber": str(subscriber.pk)})
    with TestCase.captureOnCommitCallbacks(execute=True):
        subscription_sync(obj={**obj, "status": "incomplete"}, seen_at_ms=1000)
    assert mail.outbox == []
    with TestCase.captureOnCommitCallbacks(execute=True):
        subscription_sync(obj=obj, seen_at_ms=2000)
    [welcome] = mail.outbox
    assert welcome.to == ["ada@example.com"]
    assert welcome.subject == "Your subscription to Reading Room is active"
    assert subscriber.public_token in welcome.body


def test_no_welcome_email_for_a_subscription_without_a_subscriber(db: Any, eager: None) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
        subscription_sync(obj=_subscription_obj())
    assert callbacks == [] and mail.outbox == []


def test_staff_are_alerted_when_access_ends(
    db: Any, alert_emails: None, caplog: pytest.LogCaptureFixture
) -> None:
    subscription_sync(obj=_subscription_obj(), seen_at_ms=1000)
    with TestCase.captureOnCommitCallbacks(execute=True):
        subscription_sync(obj=_subscription_obj(status="past_due"), seen_at_ms=2000)
    assert mail.outbox == []  # past due keeps access while Stripe retries
    with (
        TestCase.captureOnCommitCallbacks(execute=True),
        caplog.at_level("WARNING", logger="payments.alerts"),
    ):
        subscription_sync(obj=_subscription_obj(status="unpaid"), seen_at_ms=3000)
    [alert] = mail.outbox
    assert alert.to == ["ops@example.com"]
    assert alert.subject == "[payments] Subscription sub_1: access ended (unpaid)"
    assert alert.body == "Subscription sub_1: access ended (unpaid)\n\nsubscription: sub_1\ncustomer: cus_1"
    # the kind the chat channel and the log filter on
    [record] = [r for r in caplog.records if r.name == "payments.alerts"]
    assert (record.alert, record.subscription, record.customer) == ("subscription_ended", "sub_1", "cus_1")


def test_staff_are_alerted_when_an_active_subscription_is_canceled(db: Any, alert_emails: None) -> None:
    subscription_sync(obj=_subscription_obj(), seen_at_ms=1000)
    with TestCase.captureOnCommitCallbacks(execute=True):
        subscription_sync(obj=_subscription_obj(status="canceled"), seen_at_ms=2000)
    [alert] = mail.outbox
    assert "access ended (canceled)" in alert.subject


def test_no_alert_when_a_first_payment_never_came(db: Any, alert_emails: None) -> None:
    subscription_sync(obj=_subscription_obj(status="incomplete"), seen_at_ms=1000)
    with TestCase.captureOnCommitCallbacks(execute=True):
        subscription_sync(obj=_subscription_obj(status="incomplete_expired"), seen_at_ms=2000)
    assert mail.outbox == []


# ---------------------------------------------------------------------------- invoice


INVOICE_FIELDS = (
    "stripe_id",
    "customer_id",
    "number",
    "status",
    "billing_reason",
    "amount_due",
    "amount_paid",
    "currency",
    "attempt_count",
    "next_payment_attempt",
    "period_start",
    "period_end",
    "paid_at",
    "subscription_id",
    "payment_intent_id",
    "payment_intent_status",
    "livemode",
    "stripe_created",
)


def _fields(inv: Invoice) -> dict[str, Any]:
    return {name: getattr(inv, name) for name in INVOICE_FIELDS}


def test_an_invoice_mirrors_what_the_dunning_email_and_finance_read(db: Any) -> None:
    obj = _invoice_obj(
        customer={"id": "cus_9"},
        livemode=True,
        amount_paid=300,
        attempt_count=2,
        status_transitions={"paid_at": T0 + 60},
        parent={"subscription_details": {"subscription": {"id": "sub_9"}}},
    )
    inv = invoice_sync(obj=obj, payment_intent={"id": "pi_1", "status": "requires_action"})
    expected = {
        "stripe_id": "in_1",
        "customer_id": "cus_9",
        "number": "RR-0001",
        "status": "open",
        "billing_reason": "subscription_cycle",
        "amount_due": 900,
        "amount_paid": 300,
        "currency": "gbp",
        "attempt_count": 2,
        "next_payment_attempt": _at(T0 + DAY),
        "period_start": _at(T0),
        "period_end": _at(T0 + 30 * DAY),
        "paid_at": _at(T0 + 60),
        "subscription_id": "sub_9",
        "payment_intent_id": "pi_1",
        "payment_intent_status": "requires_action",
        "livemode": True,
        "stripe_created": _at(T0),
    }
    assert _fields(inv) == expected
    assert inv.needs_authentication and inv.synced_at is not None
    assert _fields(Invoice.objects.get()) == expected


def test_a_bare_invoice_snapshot_falls_back_to_defaults(db: Any) -> None:
    inv = invoice_sync(obj={"id": "in_2", "status": "draft"})
    assert _fields(inv) == {
        "stripe_id": "in_2",
        "customer_id": "",
        "number": "",
        "status": "draft",
        "billing_reason": "",
        "amount_due": 0,
        "amount_paid": 0,
        "currency": "",
        "attempt_count": 0,
        "next_payment_attempt": None,
        "period_start": None,
        "period_end": None,
        "paid_at": None,
        "subscription_id": None,
        "payment_intent_id": "",
        "payment_intent_status": "",
        "livemode": False,
        "stripe_created": None,
    }
    lines = invoice_sync(obj={"id": "in_3", "status": "draft", "lines": {"data": [{}]}})
    assert (lines.period_start, lines.period_end) == (None, None)


def test_an_invoice_payment_intent_without_details_is_recorded_empty(db: Any) -> None:
    inv = invoice_sync(obj=_invoice_obj(), payment_intent={})
    assert (inv.payment_intent_id, inv.payment_intent_status) == ("", "")


@pytest.mark.parametrize(("status", "named"), [("lost", "'lost'"), (None, "''")])
def test_an_unknown_invoice_status_is_refused_and_nothing_is_written(
    db: Any, status: str | None, named: str
) -> None:
    with pytest.raises(ValueError) as refused:
        invoice_sync(obj=_invoice_obj(status=status))
    assert str(refused.value) == f"unknown invoice status {named}"
    assert not Invoice.objects.exists()


def test_an_invoice_climbs_open_uncollectible_paid(db: Any) -> None:
    invoice_sync(obj=_invoice_obj(status="draft"), seen_at_ms=1000)
    invoice_sync(obj=_invoice_obj(), seen_at_ms=2000)
    assert Invoice.objects.get().status == "open"
    invoice_sync(obj=_invoice_obj(status="uncollectible"), seen_at_ms=3000)
    assert Invoice.objects.get().status == "uncollectible"
    inv = invoice_sync(obj=_invoice_obj(status="paid", amount_paid=900), seen_at_ms=4000)
    assert (inv.status, inv.amount_paid, inv.status_at) == ("paid", 900, 4000)
    stored = Invoice.objects.get()
    assert (stored.status, stored.amount_paid, stored.status_at) == ("paid", 900, 4000)


def test_an_invoice_never_goes_back_a_status(db: Any) -> None:
    invoice_sync(obj=_invoice_obj(), seen_at_ms=1000)
    inv = invoice_sync(obj=_invoice_obj(status="draft", amount_due=1), seen_at_ms=2000)
    assert (inv.status, inv.amount_due, inv.status_at) == ("open", 900, 1000)
    assert Invoice.objects.get().status == "open"


@pytest.mark.parametrize(("final", "later"), [("paid", "void"), ("void", "paid"), ("paid", "open")])
def test_a_paid_or_void_invoice_is_final(db: Any, final: str, later: str) -> None:
    invoice_sync(obj=_invoice_obj(status=final), seen_at_ms=1000)
    invoice_sync(obj=_invoice_obj(status=later), seen_at_ms=2000)
    assert Invoice.objects.get().status == final


def test_a_later_invoice_status_wins_even_from_a_snapshot_stamped_earlier(db: Any) -> None:
    # the status rank decides first: Stripe time only orders snapshots of the same status
    invoice_sync(obj=_invoice_obj(), seen_at_ms=2000)
    inv = invoice_sync(obj=_invoice_obj(status="paid", amount_paid=900), seen_at_ms=1500)
    assert (inv.status, inv.amount_paid) == ("paid", 900)
    stored = Invoice.objects.get()
    assert (stored.status, stored.amount_paid, stored.status_at) == ("paid", 900, 1500)


def test_an_invoice_another_worker_inserted_first_gets_the_newer_snapshot(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given another worker's mirror (draft) inserted after this sync's read missed it
    invoice_sync(obj=_invoice_obj(status="draft", attempt_count=0), seen_at_ms=1000)
    _read_misses(monkeypatch, Invoice)
    # when this worker's snapshot (open, first attempt failed) is synced
    inv = invoice_sync(obj=_invoice_obj(), seen_at_ms=2000)
    # then it is applied to that row
    stored = Invoice.objects.get()
    assert (stored.pk, stored.status, stored.attempt_count, stored.status_at) == (inv.pk, "open", 1, 2000)


def test_an_older_invoice_snapshot_of_the_same_status_changes_nothing(db: Any) -> None:
    invoice_sync(obj=_invoice_obj(attempt_count=2), seen_at_ms=2000)
    invoice_sync(obj=_invoice_obj(attempt_count=3, amount_due=1), seen_at_ms=1999)
    stored = Invoice.objects.get()
    assert (stored.attempt_count, stored.amount_due, stored.status_at) == (2, 900, 2000)
    # the same time: applied
    invoice_sync(obj=_invoice_obj(attempt_count=3), seen_at_ms=2000)
    assert Invoice.objects.get().attempt_count == 3


def test_an_invoice_attempt_count_only_climbs(db: Any) -> None:
    invoice_sync(obj=_invoice_obj(attempt_count=2), seen_at_ms=1000)
    inv = invoice_sync(obj=_invoice_obj(attempt_count=1, next_payment_attempt=T0 + 2 * DAY), seen_at_ms=2000)
    assert (inv.attempt_count, inv.next_payment_attempt) == (2, _at(T0 + 2 * DAY))
    stored = Invoice.objects.get()
    assert (stored.attempt_count, stored.next_payment_attempt, stored.status_at) == (
        2,
        _at(T0 + 2 * DAY),
        2000,
    )
    assert stored.synced_at is not None


def test_an_invoice_sync_without_its_payment_intent_keeps_the_one_known(db: Any) -> None:
    invoice_sync(
        obj=_invoice_obj(), seen_at_ms=1000, payment_intent={"id": "pi_1", "status": "requires_action"}
    )
    invoice_sync(obj=_invoice_obj(attempt_count=2), seen_at_ms=2000)
    stored = Invoice.objects.get()
    assert (stored.payment_intent_id, stored.payment_intent_status, stored.attempt_count) == (
        "pi_1",
        "requires_action",
        2,
    )


# ---------------------------------------------------------------------------- Stripe writes


Calls = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def stripe_writes(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Every billing write the product sends to Stripe (the emulator), with its arguments."""
    calls: Calls = []
    for name in (
        "product_create",
        "price_create",
        "customer_create",
        "subscription_create",
        "subscription_update",
        "setup_intent_create",
    ):
        real = getattr(stripe_gateway, name)

        def spy(*, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            calls.append((_name, kwargs))
            return _real(**kwargs)

        monkeypatch.setattr(stripe_gateway, name, spy)
    return calls


def test_a_plan_gets_its_stripe_price_once_under_the_plan_s_keys(
    plan: Plan, stripe_writes: Calls, emulator: Any
) -> None:
    price_id = plan_price_ensure(plan=plan)
    [(product_call, product), (price_call, price)] = stripe_writes
    assert product_call == "product_create" and price_call == "price_create"
    assert product == {
        "params": {"name": "Reading Room", "metadata": {"plan": "reading-room"}},
        "idempotency_key": f"plan:{plan.pk}:product:v1",
    }
    assert price["idempotency_key"] == f"plan:{plan.pk}:price:v1"
    assert price["params"] == {
        "product": emulator.client().v1.prices.retrieve(price_id).product,
        "currency": "gbp",
        "unit_amount": 900,
        "recurring": {"interval": "month"},
        "metadata": {"plan": "reading-room"},
    }
    assert Plan.objects.get().stripe_price_id == price_id == plan.stripe_price_id != ""
    # again: the stored price, no new write
    assert plan_price_ensure(plan=Plan.objects.get()) == price_id
    assert len(stripe_writes) == 2


def test_a_plan_priced_meanwhile_by_another_request_keeps_that_price_and_others_keep_theirs(
    plan: Plan, emulator: Any
) -> None:
    other = Plan.objects.create(slug="archive", name="Archive", amount=500, currency="gbp")
    stale = Plan.objects.get(pk=plan.pk)
    Plan.objects.filter(pk=plan.pk).update(stripe_price_id="price_theirs")  # the other request won
    assert plan_price_ensure(plan=stale) == "price_theirs"
    assert Plan.objects.get(pk=other.pk).stripe_price_id == ""


def test_a_subscribe_form_token_finds_the_subscriber_it_made(plan: Plan) -> None:
    first = subscriber_create(plan=plan, email="ada@example.com", form_token="tok-1")
    again = subscriber_create(plan=plan, email="ada@example.com", form_token="tok-1")
    other = subscriber_create(plan=plan, email="ada@example.com")
    assert again.pk == first.pk != other.pk
    assert (first.form_token, other.form_token) == ("tok-1", None)
    assert set(Subscriber.objects.values_list("email", flat=True)) == {"ada@example.com"}
    assert Subscriber.objects.count() == 2


def test_subscribe_creates_the_customer_and_an_incomplete_subscription_under_stored_keys(
    plan: Plan, stripe_writes: Calls, emulator: Any
) -> None:
    subscriber = subscriber_create(plan=plan, email="ada@example.com")
    sub = subscriber_subscribe(subscriber=subscriber)
    writes = dict(stripe_writes)
    pk = subscriber.pk
    assert writes["customer_create"] == {
        "params": {"email": "ada@example.com", "metadata": {"subscriber": str(pk)}},
        "idempotency_key": f"subscriber:{pk}:customer:v1",
        "ids": {"subscriber": pk},
    }
    stored = Subscriber.objects.get()
    assert writes["subscription_create"]["params"] == {
        "customer": stored.stripe_customer_id,
        "items": [{"price": plan.__class__.objects.get().stripe_price_id}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"subscriber": str(pk)},
    }
    assert writes["subscription_create"]["idempotency_key"] == f"subscriber:{pk}:subscription:v1"
    assert (stored.customer_key, stored.subscription_key) == (
        f"subscriber:{pk}:customer:v1",
        f"subscriber:{pk}:subscription:v1",
    )
    assert stored.stripe_customer_id.startswith("cus_")
    assert stored.stripe_subscription_id == sub.stripe_id == subscriber.stripe_subscription_id
    assert (sub.status, sub.subscriber_id, sub.amount) == ("incomplete", pk, 900)
    # the first invoice is mirrored too, open, for the pay page
    assert Invoice.objects.get(subscription_id=sub.stripe_id).status == "open"
    # again (a resubmit): the same subscription, no new write
    assert subscriber_subscribe(subscriber=Subscriber.objects.get()).pk == sub.pk
    assert len(stripe_writes) == 4


def test_subscribe_reuses_a_known_customer(plan: Plan, stripe_writes: Calls, emulator: Any) -> None:
    customer = emulator.client().v1.customers.create(params={"email": "ada@example.com"})
    subscriber = Subscriber.objects.create(plan=plan, email="ada@example.com", stripe_customer_id=customer.id)
    sub = subscriber_subscribe(subscriber=subscriber)
    assert "customer_create" not in dict(stripe_writes)
    assert sub.customer_id == customer.id


def test_subscribe_when_stripe_refuses_charges_nothing_and_says_so(
    plan: Plan, monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    def refuse(**kwargs: Any) -> Any:
        raise stripe_gateway.StripeUnavailable("Stripe is unavailable")

    monkeypatch.setattr(stripe_gateway, "subscription_create", refuse)
    subscriber = subscriber_create(plan=plan, email="ada@example.com")
    with pytest.raises(BillingUnavailable, match="Stripe is unavailable"):
        subscriber_subscribe(subscriber=subscriber)
    assert Subscriber.objects.get().stripe_subscription_id == ""
    assert not Subscription.objects.exists()


def _subscribed(plan: Plan, emulator: Any, card: str = "pm_card_visa") -> tuple[Subscriber, Subscription]:
    subscriber = subscriber_create(plan=plan, email="ada@example.com")
    subscriber_subscribe(subscriber=subscriber)
    [payment] = stripe_gateway.invoice_payment_list(invoice_id=Invoice.objects.get().stripe_id)
    emulator.client().v1.payment_intents.confirm(
        payment["payment"]["payment_intent"]["id"], params={"payment_method": card}
    )
    subscriber.refresh_from_db()
    sub = billing_refresh(subscription_id=subscriber.stripe_subscription_id)
    return subscriber, sub


def test_cancel_at_period_end_asks_stripe_once_under_the_subscription_s_key(
    plan: Plan, emulator: Any, stripe_writes: Calls
) -> None:
    _, sub = _subscribed(plan, emulator)
    assert sub.status == "active"
    stripe_writes.clear()
    canceled = subscription_cancel_at_period_end(subscription=sub)
    assert stripe_writes == [
        (
            "subscription_update",
            {
                "subscription_id": sub.stripe_id,
                "params": {"cancel_at_period_end": True},
                "idempotency_key": f"subscription:{sub.pk}:cancel-at-period-end:v1",
            },
        )
    ]
    assert (canceled.cancel_at_period_end, canceled.status) == (True, "active")
    assert Subscription.objects.get().cancel_at_period_end
    # again: nothing more to ask
    assert subscription_cancel_at_period_end(subscription=canceled).pk == sub.pk
    assert len(stripe_writes) == 1


def test_an_ended_subscription_is_not_canceled_again(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe_gateway, "subscription_update", lambda **kw: pytest.fail("no Stripe write"))
    sub = subscription_sync(obj=_subscription_obj(status="canceled")).subscription
    assert subscription_cancel_at_period_end(subscription=sub) is sub


def test_a_card_change_is_one_setup_intent_per_attempt(
    plan: Plan, emulator: Any, stripe_writes: Calls
) -> None:
    subscriber, _ = _subscribed(plan, emulator)
    stripe_writes.clear()
    seti = subscriber_setup_intent(subscriber=subscriber)
    [(name, call)] = stripe_writes
    assert name == "setup_intent_create"
    assert call == {
        "params": {
            "customer": subscriber.stripe_customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": {"subscriber": str(subscriber.pk)},
        },
        "idempotency_key": f"subscriber:{subscriber.pk}:setup-intent:v1",
    }
    stored = Subscriber.objects.get()
    assert (stored.setup_intent_id, stored.card_changes) == (seti["id"], 1)
    # the page reloaded before the card is confirmed: the same SetupIntent, no new write
    assert subscriber_setup_intent(subscriber=stored)["id"] == seti["id"]
    assert len(stripe_writes) == 1
    # confirmed: the card is applied as the subscription's default
    emulator.client().v1.setup_intents.confirm(seti["id"], params={"payment_method": "pm_card_mastercard"})
    stripe_writes.clear()
    assert subscriber_card_apply(subscriber=Subscriber.objects.get()) is True
    [(name, call)] = stripe_writes
    confirmed = stripe_gateway.setup_intent_retrieve(setup_intent_id=seti["id"])
    assert name == "subscription_update"
    assert call == {
        "subscription_id": subscriber.stripe_subscription_id,
        "params": {"default_payment_method": confirmed["payment_method"]},
        "idempotency_key": f"setup_intent:{seti['id']}:default-payment-method:v1",
    }
    assert Subscription.objects.get().default_payment_method == confirmed["payment_method"]
    # a second change: a new SetupIntent under the next version of the key
    stripe_writes.clear()
    second = subscriber_setup_intent(subscriber=Subscriber.objects.get())
    assert second["id"] != seti["id"]
    assert stripe_writes[0][1]["idempotency_key"] == f"subscriber:{subscriber.pk}:setup-intent:v2"
    assert Subscriber.objects.get().setup_intent_id == second["id"]


def test_a_card_not_confirmed_is_not_applied(plan: Plan, emulator: Any, stripe_writes: Calls) -> None:
    subscriber, _ = _subscribed(plan, emulator)
    assert subscriber_card_apply(subscriber=subscriber) is False  # no card change started
    subscriber_setup_intent(subscriber=subscriber)
    stripe_writes.clear()
    assert subscriber_card_apply(subscriber=Subscriber.objects.get()) is False
    assert stripe_writes == []
    orphan = Subscriber.objects.create(plan=plan, email="bob@example.com", setup_intent_id="seti_x")
    assert subscriber_card_apply(subscriber=orphan) is False  # no subscription to apply it to


def test_a_card_waiting_for_the_bank_s_check_is_neither_applied_nor_replaced(
    plan: Plan, emulator: Any, stripe_writes: Calls
) -> None:
    # given a card change whose new card needs 3-D Secure, entered but not authenticated yet
    subscriber, sub = _subscribed(plan, emulator)
    seti = subscriber_setup_intent(subscriber=subscriber)
    emulator.client().v1.setup_intents.confirm(
        seti["id"], params={"payment_method": "pm_card_authenticationRequired"}
    )
    stripe_writes.clear()
    # when the card page comes back (or is reloaded) before the customer has authenticated
    applied = subscriber_card_apply(subscriber=Subscriber.objects.get())
    resumed = subscriber_setup_intent(subscriber=Subscriber.objects.get())
    # then the subscription keeps its old card and the page resumes the same SetupIntent
    assert applied is False
    assert (resumed["id"], resumed["status"]) == (seti["id"], "requires_action")
    assert stripe_writes == []
    assert Subscription.objects.get().default_payment_method == sub.default_payment_method
    assert Subscriber.objects.values_list("setup_intent_id", "card_changes").get() == (seti["id"], 1)
    # once the bank's check is done, the new card becomes the default
    emulator.complete_setup_3ds(seti["id"])
    assert subscriber_card_apply(subscriber=Subscriber.objects.get()) is True
    confirmed = stripe_gateway.setup_intent_retrieve(setup_intent_id=seti["id"])
    assert Subscription.objects.get().default_payment_method == confirmed["payment_method"] != ""


@pytest.mark.parametrize("status", ["requires_payment_method", "requires_confirmation", "requires_action"])
def test_a_card_change_the_customer_has_not_finished_is_resumed_not_restarted(
    subscriber: Subscriber, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    # given a card change (the first) whose SetupIntent still waits on the customer
    Subscriber.objects.filter(pk=subscriber.pk).update(setup_intent_id="seti_1", card_changes=1)
    monkeypatch.setattr(
        stripe_gateway,
        "setup_intent_retrieve",
        lambda *, setup_intent_id: {"id": setup_intent_id, "status": status},
    )
    monkeypatch.setattr(stripe_gateway, "setup_intent_create", lambda **kw: pytest.fail("no new SetupIntent"))
    # when the card page is opened again
    seti = subscriber_setup_intent(subscriber=subscriber)
    # then it carries on with that SetupIntent, under the same attempt
    assert seti == {"id": "seti_1", "status": status}
    assert Subscriber.objects.values_list("setup_intent_id", "card_changes").get() == ("seti_1", 1)


# ---------------------------------------------------------------------------- payment step, refresh


def _payments(monkeypatch: pytest.MonkeyPatch, payments: list[dict[str, Any]]) -> list[str]:
    """Stripe's payments of any invoice; returns the invoices asked about."""
    asked: list[str] = []

    def invoice_payment_list(*, invoice_id: str) -> Any:
        asked.append(invoice_id)
        return iter(payments)

    monkeypatch.setattr(stripe_gateway, "invoice_payment_list", invoice_payment_list)
    return asked


def _pi(status: str, pi_id: str = "pi_1") -> dict[str, Any]:
    return {
        "payment": {"payment_intent": {"id": pi_id, "status": status, "client_secret": f"{pi_id}_secret_x"}}
    }


@pytest.mark.parametrize(
    ("status", "requires_action"),
    [("requires_payment_method", False), ("requires_confirmation", False), ("requires_action", True)],
)
def test_the_pay_page_gets_the_open_invoice_s_payment_intent(
    db: Any, monkeypatch: pytest.MonkeyPatch, status: str, requires_action: bool
) -> None:
    inv = invoice_sync(obj=_invoice_obj())
    asked = _payments(
        monkeypatch, [{"payment": {"payment_intent": "pi_unexpanded"}}, {"payment": None}, _pi(status)]
    )
    step = invoice_payment_step(invoice=inv)
    assert asked == ["in_1"]
    assert step is not None
    assert (step.client_secret, step.requires_action, step.invoice) == ("pi_1_secret_x", requires_action, inv)


def test_no_pay_step_for_a_paid_payment_or_a_closed_invoice(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = invoice_sync(obj=_invoice_obj())
    _payments(monkeypatch, [_pi("succeeded")])
    assert invoice_payment_step(invoice=inv) is None
    _payments(monkeypatch, [_pi("requires_action")])
    paid = invoice_sync(obj=_invoice_obj(id="in_2", status="paid"))
    assert invoice_payment_step(invoice=paid) is None


def _stripe_reads(
    monkeypatch: pytest.MonkeyPatch, subscription: dict[str, Any], invoices: dict[str, dict[str, Any]]
) -> None:
    monkeypatch.setattr(stripe_gateway, "subscription_retrieve", lambda *, subscription_id: subscription)
    monkeypatch.setattr(stripe_gateway, "invoice_retrieve", lambda *, invoice_id: invoices[invoice_id])


def test_a_refresh_mirrors_the_subscription_its_latest_invoice_and_the_event_s_invoice(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stripe_reads(
        monkeypatch,
        _subscription_obj(latest_invoice="in_2"),
        {"in_1": _invoice_obj(status="paid"), "in_2": _invoice_obj(id="in_2", attempt_count=0)},
    )
    payments = {
        "in_1": [_pi("succeeded", "pi_a")],
        "in_2": [
            _pi("requires_payment_method", "pi_b"),
            {**_pi("requires_action", "pi_c"), "is_default": True},
        ],
    }
    monkeypatch.setattr(
        stripe_gateway, "invoice_payment_list", lambda *, invoice_id: iter(payments[invoice_id])
    )
    sub = billing_refresh(subscription_id="sub_1", invoice_id="in_1")
    assert (sub.stripe_id, sub.status, sub.latest_invoice_id) == ("sub_1", "active", "in_2")
    mirrored = dict(Invoice.objects.values_list("stripe_id", "payment_intent_id"))
    assert mirrored == {"in_1": "pi_a", "in_2": "pi_c"}  # the default payment wins
    assert Invoice.objects.get(stripe_id="in_2").payment_intent_status == "requires_action"


def test_a_refresh_takes_the_first_payment_when_none_is_the_default(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stripe_reads(monkeypatch, _subscription_obj(), {"in_1": _invoice_obj()})
    _payments(monkeypatch, [{"payment": {}}, _pi("requires_payment_method", "pi_a"), _pi("canceled", "pi_b")])
    billing_refresh(subscription_id="sub_1")
    assert Invoice.objects.get().payment_intent_id == "pi_a"


def test_a_refresh_of_a_subscription_without_invoices_mirrors_it_alone(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stripe_reads(monkeypatch, _subscription_obj(latest_invoice=None), {})
    assert billing_refresh(subscription_id="sub_1").status == "active"
    assert not Invoice.objects.exists()


def test_the_resync_refreshes_every_subscription_created_since(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def subscription_list(*, since: int) -> Any:
        asked.append(since)
        return iter([{"id": "sub_1"}, {"id": "sub_2"}])

    monkeypatch.setattr(stripe_gateway, "subscription_list", subscription_list)
    monkeypatch.setattr(
        stripe_gateway,
        "subscription_retrieve",
        lambda *, subscription_id: _subscription_obj(id=subscription_id, latest_invoice=None),
    )
    assert billing_resync(since=T0) == 2
    assert asked == [T0]
    assert set(Subscription.objects.values_list("stripe_id", flat=True)) == {"sub_1", "sub_2"}


# ---------------------------------------------------------------------------- dunning


def _page(subscriber: Subscriber, name: str = "billing:account") -> str:
    return "https://shop.example" + reverse(name, args=[subscriber.public_token])


def _renewal(
    subscriber: Subscriber | None, *, sub_status: str = "past_due", **invoice: Any
) -> tuple[Invoice, Subscription]:
    metadata = {"subscriber": str(subscriber.pk)} if subscriber else {}
    sub = subscription_sync(obj=_subscription_obj(status=sub_status, metadata=metadata)).subscription
    inv = invoice_sync(obj=_invoice_obj(**invoice))
    return inv, sub


def test_a_failed_renewal_attempt_records_one_notice_emails_the_customer_and_alerts_staff(
    subscriber: Subscriber, eager: None, alert_emails: None, caplog: pytest.LogCaptureFixture
) -> None:
    inv, sub = _renewal(subscriber)
    with (
        TestCase.captureOnCommitCallbacks(execute=True),
        caplog.at_level("WARNING", logger="payments.alerts"),
    ):
        notice = dunning_notice_record(invoice=inv, subscription=sub)
    assert [r.alert for r in caplog.records if r.name == "payments.alerts"] == ["renewal_failed"]
    assert notice is not None
    assert (notice.invoice_id, notice.attempt, notice.kind) == (inv.pk, 1, "pay")
    [email] = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert email.subject == "We couldn't take your subscription payment"
    assert "We couldn't take £9.00 for your subscription." in email.body
    assert "Pay now or use another card: " + _page(subscriber, "billing:account_pay") in email.body
    assert _page(subscriber, "billing:account_pay") in email.body
    assert DunningNotice.objects.get().sent_at is not None
    [alert] = [m for m in mail.outbox if m.to == ["ops@example.com"]]
    assert "Invoice in_1 of sub_1: attempt 1 failed (pay)" in alert.subject
    assert "invoice: in_1" in alert.body and "subscription: sub_1" in alert.body
    # the same attempt again (a duplicate event): nothing more
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert dunning_notice_record(invoice=inv, subscription=sub) is None
    assert mail.outbox == [] and DunningNotice.objects.count() == 1


def test_a_renewal_waiting_for_the_bank_asks_the_customer_to_confirm(
    subscriber: Subscriber, eager: None
) -> None:
    inv, sub = _renewal(subscriber)
    inv = invoice_sync(
        obj=_invoice_obj(attempt_count=2), payment_intent={"id": "pi_1", "status": "requires_action"}
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        notice = dunning_notice_record(invoice=inv, subscription=sub)
    assert notice is not None and (notice.kind, notice.attempt) == ("authenticate", 2)
    [email] = mail.outbox
    assert email.subject == "Your bank needs you to confirm your subscription payment"
    assert "Your bank needs you to confirm the payment of £9.00" in email.body
    assert "Confirm it here: " + _page(subscriber, "billing:account_pay") in email.body


def test_a_renewal_that_ended_the_subscription_says_so(subscriber: Subscriber, eager: None) -> None:
    inv, sub = _renewal(subscriber, sub_status="unpaid")
    with TestCase.captureOnCommitCallbacks(execute=True):
        notice = dunning_notice_record(invoice=inv, subscription=sub)
    assert notice is not None and notice.kind == "ended"
    [email] = mail.outbox
    assert email.subject == "Your subscription has ended"
    assert "We couldn't take £9.00 for your subscription after several tries, so it has ended." in email.body
    assert "Your account: " + _page(subscriber) in email.body
    assert _page(subscriber) + "\n" in email.body and "/pay/" not in email.body


@pytest.mark.parametrize(
    "invoice",
    [
        {"billing_reason": "subscription_create"},  # the first invoice is paid on our page
        {"attempt_count": 0},  # not attempted yet
        {"status": "paid"},
        {"status": "draft"},
    ],
)
def test_no_dunning_notice_without_a_failed_renewal_attempt(
    subscriber: Subscriber, eager: None, invoice: dict[str, Any]
) -> None:
    inv, sub = _renewal(subscriber, **invoice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert dunning_notice_record(invoice=inv, subscription=sub) is None
    assert not DunningNotice.objects.exists() and mail.outbox == []


def test_a_notice_is_sent_once(subscriber: Subscriber) -> None:
    inv, _ = _renewal(subscriber)
    notice = DunningNotice.objects.create(invoice=inv, attempt=1, kind="pay")
    assert dunning_notice_send(notice_pk=notice.pk) is True
    assert dunning_notice_send(notice_pk=notice.pk) is False
    [email] = mail.outbox
    assert (email.to, email.from_email) == (["ada@example.com"], settings.DEFAULT_FROM_EMAIL)
    assert "try again on 29 May 2026, 20:26 UTC" in email.body


def test_a_notice_of_an_invoice_without_a_subscriber_is_not_sent(db: Any) -> None:
    inv, _ = _renewal(None)
    orphan = invoice_sync(obj=_invoice_obj(id="in_2", parent=None))
    for invoice in (inv, orphan):
        notice = DunningNotice.objects.create(invoice=invoice, attempt=1, kind="pay")
        assert dunning_notice_send(notice_pk=notice.pk) is False
    assert mail.outbox == []


def test_the_sweep_sends_the_notices_whose_task_was_lost(subscriber: Subscriber) -> None:
    inv, _ = _renewal(subscriber)
    old = DunningNotice.objects.create(invoice=inv, attempt=1, kind="pay")
    fresh = DunningNotice.objects.create(invoice=inv, attempt=2, kind="pay")
    DunningNotice.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    assert dunning_notices_send_missed() == 1
    assert DunningNotice.objects.get(pk=fresh.pk).sent_at is None
    assert len(mail.outbox) == 1
    assert dunning_notices_send_missed() == 0
    assert dunning_notices_send_missed(older_than_seconds=0) == 1
    assert len(mail.outbox) == 2


def _renewal_rows(subscriber: Subscriber) -> Invoice:
    """A past-due subscription's open renewal, written directly (for the sweep's tests alone)."""
    sub = Subscription.objects.create(
        stripe_id="sub_1", subscriber=subscriber, customer_id="cus_1", status="past_due"
    )
    return Invoice.objects.create(
        stripe_id="in_1", subscription=sub, status="open", currency="gbp", amount_due=900, attempt_count=1
    )


def test_the_sweep_leaves_a_notice_its_task_may_still_send_for_a_minute(
    subscriber: Subscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a fixed clock, and two notices queued 59.5 and 60.5 seconds ago
    now = _at(T0)
    monkeypatch.setattr(services.timezone, "now", lambda: now)
    inv = _renewal_rows(subscriber)
    young = DunningNotice.objects.create(invoice=inv, attempt=1, kind="pay")
    old = DunningNotice.objects.create(invoice=inv, attempt=2, kind="pay")
    DunningNotice.objects.filter(pk=young.pk).update(created_at=now - timedelta(seconds=59.5))
    DunningNotice.objects.filter(pk=old.pk).update(created_at=now - timedelta(seconds=60.5))
    # when the sweep runs with its default
    sent = dunning_notices_send_missed()
    # then only the one older than a minute is emailed
    assert sent == 1 and len(mail.outbox) == 1
    assert DunningNotice.objects.filter(sent_at__isnull=False).get().pk == old.pk


def test_the_sweep_works_through_a_backlog_200_at_a_time_past_the_notices_already_sent(
    subscriber: Subscriber,
) -> None:
    # given 200 notices already sent, then 201 whose task was lost, all queued over a minute ago
    inv = _renewal_rows(subscriber)
    long_ago = timezone.now() - timedelta(hours=1)
    DunningNotice.objects.bulk_create(
        DunningNotice(invoice=inv, attempt=n, kind="pay", sent_at=long_ago) for n in range(1, 201)
    )
    DunningNotice.objects.bulk_create(
        DunningNotice(invoice=inv, attempt=n, kind="pay") for n in range(201, 402)
    )
    DunningNotice.objects.update(created_at=long_ago)
    # when the sweep runs three times
    runs = [dunning_notices_send_missed() for _ in range(3)]
    # then it sends 200, then the last one, then nothing: each lost notice once
    assert runs == [200, 1, 0]
    assert len(mail.outbox) == 201
    assert not DunningNotice.objects.filter(sent_at__isnull=True).exists()


def test_the_welcome_email_is_sent_once(subscriber: Subscriber, plan: Plan) -> None:
    other = Subscriber.objects.create(plan=plan, email="bob@example.com")
    assert subscriber_welcome_send(subscriber_pk=subscriber.pk) is True
    assert subscriber_welcome_send(subscriber_pk=subscriber.pk) is False
    [email] = mail.outbox
    assert (email.to, email.from_email) == (["ada@example.com"], settings.DEFAULT_FROM_EMAIL)
    assert email.subject == "Your subscription to Reading Room is active"
    # each subscriber gets their own
    assert subscriber_welcome_send(subscriber_pk=other.pk) is True
    assert mail.outbox[1].to == ["bob@example.com"]
    assert email.body == (
        "Thank you: your subscription to Reading Room is active.\n\n"
        f"Your account page (keep this link private): {_page(subscriber)}\n"
    )
