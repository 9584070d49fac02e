"""A renewal declined then recovered, end to end: the emulator delivering signed webhooks to the
live server while it drops, duplicates and reorders them, PostgreSQL, Redis and a real Celery
worker process; then the recovery job and the billing re-sync. The outcome is what Stripe says,
with one dunning email per failed attempt."""

from collections.abc import Callable
from typing import Any

import pytest

from billing.models import DunningNotice, Invoice, Plan, Subscription
from billing.services import billing_resync, subscriber_create, subscriber_subscribe
from config.celery import app
from payments.models import StripeEvent
from payments.services.events.recovery import stripe_event_recover
from tests.e2e_support import Worker, open_events, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.slow]

DAY = 86400


@pytest.fixture
def worker(start_worker: Callable[..., Worker], monkeypatch: pytest.MonkeyPatch) -> Worker:
    """The shared real worker (tests/e2e_support.py); what this process queues (the re-sync's
    emails) goes to it too."""
    running = start_worker()
    monkeypatch.setattr(
        app, "send_task", lambda name, **kw: running.sender.send_task(name, **{**kw, "queue": running.queue})
    )
    return running


def settle(emulator: Any, worker: Worker) -> None:
    """Deliveries done, the worker idle, then the recovery job for what was dropped."""
    assert emulator.wait_for_deliveries(timeout=60)
    idle = lambda: open_events() == 0  # noqa: E731
    wait_until(idle, 60, "the worker to process the delivered events", worker)
    stripe_event_recover()
    wait_until(idle, 60, "the worker to process the recovered events", worker)


def test_renewal_declined_then_recovered_under_dropped_duplicated_reordered_events(
    emulator: Any, live_server: Any, settings: Any, worker: Worker
) -> None:
    endpoint = emulator.add_webhook_endpoint(live_server.url + "/stripe/webhook/")
    settings.STRIPE_WEBHOOK_SECRETS = [endpoint["secret"]]
    settings.SITE_URL = live_server.url
    emulator.configure_account(invoice_retry_hours=[24, 48])
    emulator.set_faults(drop_rate=0.3, duplicate_rate=0.3, reorder_window=6, double_event_rate=0.1)
    stripe = emulator.client()
    plan = Plan.objects.create(slug="club", name="Club", amount=900, currency="gbp")

    # a subscriber pays the first invoice
    subscriber = subscriber_create(plan=plan, email="ada@example.com")
    subscription = subscriber_subscribe(subscriber=subscriber)
    payment = stripe.v1.invoice_payments.list(
        params={"invoice": subscription.latest_invoice_id, "expand": ["data.payment.payment_intent"]}
    ).data[0]
    stripe.v1.payment_intents.confirm(
        payment.payment.payment_intent.id, params={"payment_method": "pm_card_visa"}
    )
    settle(emulator, worker)
    assert Subscription.objects.get(pk=subscription.pk).status == "active"

    # the saved card starts declining; the renewal fails
    pm = stripe.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": subscriber.stripe_customer_id}
    )
    stripe.v1.subscriptions.update(subscription.stripe_id, params={"default_payment_method": pm.id})
    emulator.advance_clock(31 * DAY + 60)
    settle(emulator, worker)
    billing_resync(since=0)  # the job repairs what even the events API did not bring in time
    subscription.refresh_from_db()
    assert subscription.status == "past_due"
    renewal = Invoice.objects.get(billing_reason="subscription_cycle")
    assert renewal.status == "open" and renewal.attempt_count == 1
    wait_until(
        lambda: DunningNotice.objects.filter(sent_at__isnull=False).count() == 1, 30, "the email", worker
    )

    # a new card; the next retry takes it
    good = stripe.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": subscriber.stripe_customer_id}
    )
    stripe.v1.subscriptions.update(subscription.stripe_id, params={"default_payment_method": good.id})
    emulator.advance_clock(DAY)
    settle(emulator, worker)
    billing_resync(since=0)
    subscription.refresh_from_db()
    assert subscription.status == "active"
    renewal.refresh_from_db()
    assert renewal.status == "paid" and renewal.amount_paid == 900
    assert list(DunningNotice.objects.values_list("attempt", flat=True)) == [1]
    assert not StripeEvent.objects.filter(status=StripeEvent.Status.DEAD).exists()
