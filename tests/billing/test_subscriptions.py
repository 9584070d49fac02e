"""Subscriptions and dunning against the emulator, events through the inbox (store, process).

The Payment Element's part (the browser confirming the first invoice's PaymentIntent, the bank's
3-D Secure page) is done here through the emulator's API; tests/browser does it in Chromium.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from billing.models import DunningNotice, Invoice, Plan, Subscriber, Subscription
from billing.selectors import subscription_has_access
from billing.services import billing_resync
from config.metrics import metrics_text
from console.search import record_find
from payments.models import StripeEvent
from reconciliation.models import Discrepancy
from reconciliation.services.ledger import ledger_check

pytestmark = pytest.mark.django_db

DAY = 86400
Pump = Callable[[], int]


def _subscribe(client: Any, plan: Plan) -> tuple[Subscriber, dict[str, Any]]:
    """Our subscribe form, then our pay page: returns the subscriber and the page's Stripe config."""
    response = client.post(reverse("billing:subscribe", args=[plan.slug]), {"email": "ada@example.com"})
    assert response.status_code == 302
    subscriber = Subscriber.objects.get()
    assert response["Location"] == reverse("billing:account_pay", args=[subscriber.public_token])
    page = client.get(response["Location"])
    assert page.status_code == 200
    config = json.loads(re.search(r'id="stripe-config"[^>]*>(.*?)</script>', page.content.decode()).group(1))
    return subscriber, config


def _confirm(emulator: Any, config: dict[str, Any], card: str) -> Any:
    """What Stripe.js does on our pay page: confirm the invoice's PaymentIntent with the card."""
    pi_id = config["clientSecret"].split("_secret_")[0]
    return emulator.client().v1.payment_intents.confirm(pi_id, params={"payment_method": card})


def _active(client: Any, emulator: Any, plan: Plan, pump: Pump, card: str = "pm_card_visa") -> Subscriber:
    subscriber, config = _subscribe(client, plan)
    pi = _confirm(emulator, config, card)
    if pi.status == "requires_action":
        emulator.complete_3ds(pi.id)
    pump()
    return subscriber


def _subscription(subscriber: Subscriber) -> Subscription:
    return Subscription.objects.get(stripe_id=subscriber.stripe_subscription_id)


def _switch_card(emulator: Any, subscriber: Subscriber, card: str) -> None:
    """The customer's bank replaces the saved card with one that declines from now on (done at
    Stripe: our account page's card change is a SetupIntent)."""
    stripe = emulator.client()
    pm = stripe.v1.payment_methods.attach(card, params={"customer": subscriber.stripe_customer_id})
    stripe.v1.subscriptions.update(
        subscriber.stripe_subscription_id, params={"default_payment_method": pm.id}
    )


def _account(client: Any, subscriber: Subscriber) -> str:
    response = client.get(reverse("billing:account", args=[subscriber.public_token]))
    assert response.status_code == 200
    return response.content.decode()


def _dunning_mails() -> list[Any]:
    return [m for m in mail.outbox if "subscription" in m.subject and "active" not in m.subject]


def test_subscribe_with_4242(client: Any, emulator: Any, plan: Plan, pump: Pump) -> None:
    subscriber, config = _subscribe(client, plan)
    assert config["requiresAction"] is False and config["publishableKey"].startswith("pk_")
    assert "Waiting for your first payment" in _account(client, subscriber)
    assert not subscription_has_access(subscription=_subscription(subscriber))
    # the keys of the Stripe writes were stored before the calls
    assert (
        subscriber.__class__.objects.get().subscription_key == f"subscriber:{subscriber.pk}:subscription:v1"
    )

    assert _confirm(emulator, config, "pm_card_visa").status == "succeeded"
    assert pump() > 0
    sub = _subscription(subscriber)
    assert sub.status == "active" and subscription_has_access(subscription=sub)
    page = _account(client, subscriber)
    assert "You have access to Reading Room" in page
    assert "Next charge: £9.00 on" in page
    [invoice] = Invoice.objects.all()
    assert invoice.status == "paid" and invoice.amount_paid == 900
    welcome = [m for m in mail.outbox if "is active" in m.subject]
    assert len(welcome) == 1 and subscriber.public_token in welcome[0].body
    pump()  # nothing new: still one email
    assert len([m for m in mail.outbox if "is active" in m.subject]) == 1


def test_subscribe_with_3155_asks_for_3ds_once(client: Any, emulator: Any, plan: Plan, pump: Pump) -> None:
    subscriber, config = _subscribe(client, plan)
    pi = _confirm(emulator, config, "pm_card_authenticationRequiredOnSetup")
    assert pi.status == "requires_action"
    pump()
    assert _subscription(subscriber).status == "incomplete"
    emulator.complete_3ds(pi.id)
    pump()
    assert _subscription(subscriber).status == "active"
    # the renewal goes through off-session, without asking again
    emulator.advance_clock(31 * DAY + 60)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "active"
    assert list(Invoice.objects.values_list("status", flat=True)) == ["paid", "paid"]
    assert _dunning_mails() == []


def test_renewal_paid(client: Any, emulator: Any, plan: Plan, pump: Pump) -> None:
    subscriber = _active(client, emulator, plan, pump)
    first_end = _subscription(subscriber).current_period_end
    emulator.advance_clock(31 * DAY + 60)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "active" and sub.current_period_end > first_end
    renewal = Invoice.objects.get(billing_reason="subscription_cycle")
    assert renewal.status == "paid" and renewal.amount_paid == 900
    assert renewal.number in _account(client, subscriber)


def test_renewal_declined_then_recovered_by_a_retry(
    client: Any, emulator: Any, plan: Plan, pump: Pump, admin_client: Any
) -> None:
    emulator.configure_account(invoice_retry_hours=[24, 48, 72])
    subscriber = _active(client, emulator, plan, pump)
    _switch_card(emulator, subscriber, "pm_card_chargeCustomerFail")
    pump()
    emulator.advance_clock(31 * DAY + 60)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "past_due" and subscription_has_access(subscription=sub)
    renewal = Invoice.objects.get(billing_reason="subscription_cycle")
    assert renewal.status == "open" and renewal.next_payment_attempt is not None
    [notice] = _dunning_mails()
    assert "couldn't take £9.00" in notice.body
    assert reverse("billing:account_pay", args=[subscriber.public_token]) in notice.body
    page = _account(client, subscriber)
    assert "Payment overdue" in page and "try again on" in page
    # staff see it past due with the next retry time
    listing = admin_client.get(reverse("admin:billing_subscription_changelist") + "?status=past_due")
    assert sub.stripe_id in listing.content.decode()
    [row] = listing.context["cl"].result_list
    assert row.next_retry_at == renewal.next_payment_attempt  # the "Next retry" column
    assert "subscriptions_past_due 1.0" in metrics_text().decode()
    emulator.advance_clock(DAY)  # the first retry fails too: a second email, one per attempt
    pump()
    pump()
    assert len(_dunning_mails()) == 2
    _switch_card(emulator, subscriber, "pm_card_visa")
    emulator.advance_clock(DAY)
    pump()
    assert _subscription(subscriber).status == "active"
    assert Invoice.objects.get(pk=renewal.pk).status == "paid"
    assert len(_dunning_mails()) == 2
    assert "subscriptions_past_due 0.0" in metrics_text().decode()


def test_renewal_needing_authentication_completed_by_the_customer(
    client: Any, emulator: Any, plan: Plan, pump: Pump
) -> None:
    subscriber = _active(client, emulator, plan, pump, card="pm_card_authenticationRequired")
    emulator.advance_clock(31 * DAY + 60)
    pump()
    assert _subscription(subscriber).status == "past_due"
    [notice] = DunningNotice.objects.all()
    assert notice.kind == DunningNotice.Kind.AUTHENTICATE
    [email] = _dunning_mails()
    assert "confirm" in email.subject
    assert "Confirm the payment" in _account(client, subscriber)
    # our pay page asks only for the bank's check
    page = client.get(reverse("billing:account_pay", args=[subscriber.public_token]))
    config = json.loads(re.search(r'id="stripe-config"[^>]*>(.*?)</script>', page.content.decode()).group(1))
    assert config["requiresAction"] is True
    emulator.complete_3ds(config["clientSecret"].split("_secret_")[0])
    pump()
    assert _subscription(subscriber).status == "active"
    assert Invoice.objects.get(billing_reason="subscription_cycle").status == "paid"


def test_all_retries_failed_ends_access_at_that_moment(
    client: Any, emulator: Any, plan: Plan, pump: Pump
) -> None:
    emulator.configure_account(invoice_retry_hours=[24, 48], subscription_after_retries="cancel")
    subscriber = _active(client, emulator, plan, pump)
    _switch_card(emulator, subscriber, "pm_card_chargeCustomerFail")
    emulator.advance_clock(31 * DAY + 60)
    pump()
    emulator.advance_clock(DAY)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "past_due" and subscription_has_access(subscription=sub)  # not earlier
    emulator.advance_clock(DAY)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "canceled" and not subscription_has_access(subscription=sub)
    assert "You do not have access" in _account(client, subscriber)
    kinds = list(DunningNotice.objects.order_by("attempt").values_list("kind", flat=True))
    assert kinds == ["pay", "pay", "ended"]
    assert len(_dunning_mails()) == 3


def test_after_retries_unpaid_setting(client: Any, emulator: Any, plan: Plan, pump: Pump) -> None:
    emulator.configure_account(invoice_retry_hours=[24], subscription_after_retries="unpaid")
    subscriber = _active(client, emulator, plan, pump)
    _switch_card(emulator, subscriber, "pm_card_chargeCustomerFail")
    emulator.advance_clock(32 * DAY + 60)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "unpaid" and not subscription_has_access(subscription=sub)


def test_cancel_at_period_end(client: Any, emulator: Any, plan: Plan, pump: Pump) -> None:
    subscriber = _active(client, emulator, plan, pump)
    response = client.post(reverse("billing:account_cancel", args=[subscriber.public_token]))
    assert response.status_code == 302
    client.post(reverse("billing:account_cancel", args=[subscriber.public_token]))  # twice: no harm
    pump()
    sub = _subscription(subscriber)
    assert sub.cancel_at_period_end and sub.status == "active"
    assert "Active until" in _account(client, subscriber)
    emulator.advance_clock(20 * DAY)
    pump()
    assert subscription_has_access(subscription=_subscription(subscriber))
    emulator.advance_clock(15 * DAY)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "canceled" and not subscription_has_access(subscription=sub)
    assert Invoice.objects.count() == 1  # nothing more charged


def _renewal_declined_scenario(client: Any, emulator: Any, plan: Plan, pump: Pump) -> Subscriber:
    emulator.configure_account(invoice_retry_hours=[24, 48])
    subscriber = _active(client, emulator, plan, pump)
    _switch_card(emulator, subscriber, "pm_card_chargeCustomerFail")
    pump()
    emulator.advance_clock(31 * DAY + 60)
    return subscriber


def test_events_duplicated_and_reordered_around_a_renewal_change_nothing(
    client: Any,
    emulator: Any,
    plan: Plan,
    process: Callable[..., StripeEvent],
    stripe_events: Callable[[], list[dict[str, Any]]],
    pump: Pump,
) -> None:
    subscriber = _renewal_declined_scenario(client, emulator, plan, pump)
    seen = set(StripeEvent.objects.values_list("stripe_id", flat=True))
    new = [e for e in stripe_events() if e["id"] not in seen]
    assert len(new) >= 4
    # newest first, each twice, plus a second Event object for the same change
    for event in reversed(new):
        process(event)
        process(StripeEvent.objects.get(stripe_id=event["id"]))
    twin = {**new[0], "id": "evt_twin_of_" + new[0]["id"][4:]}
    process(twin)
    sub = _subscription(subscriber)
    assert sub.status == "past_due"
    assert Invoice.objects.get(billing_reason="subscription_cycle").status == "open"
    assert DunningNotice.objects.count() == 1 and len(_dunning_mails()) == 1


def test_events_dropped_around_a_renewal_are_repaired_by_the_resync(
    client: Any, emulator: Any, plan: Plan, pump: Pump, eager: None
) -> None:
    subscriber = _renewal_declined_scenario(client, emulator, plan, pump)
    # no event of the renewal arrives; the re-sync job asks Stripe
    assert _subscription(subscriber).status == "active"
    with TestCase.captureOnCommitCallbacks(execute=True):  # as the job's own commit would
        assert billing_resync(since=0) == 1
    assert _subscription(subscriber).status == "past_due"
    assert Invoice.objects.filter(billing_reason="subscription_cycle", status="open").exists()
    assert len(_dunning_mails()) == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        billing_resync(since=0)
    assert len(_dunning_mails()) == 1


def test_staff_search_finds_subscriptions_and_invoices(
    client: Any, emulator: Any, plan: Plan, pump: Pump
) -> None:
    subscriber = _active(client, emulator, plan, pump)
    invoice = Invoice.objects.get()
    assert [r.kind for r in record_find(query=subscriber.stripe_subscription_id)] == ["subscription"]
    assert [r.kind for r in record_find(query=invoice.stripe_id)] == ["invoice"]


def test_account_page_needs_the_token(client: Any, db: Any) -> None:
    assert client.get(reverse("billing:account", args=["not-a-token"])).status_code == 404


def test_seed_demo_puts_the_plan_in_the_catalog(db: Any) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # again: updated, not duplicated
    plan = Plan.objects.get()
    assert plan.active and plan.amount > 0 and plan.interval == "month"
    assert plan.slug in reverse("billing:subscribe", args=[plan.slug])


def test_renewal_alerts_carry_ids_only(
    client: Any, emulator: Any, plan: Plan, pump: Pump, caplog: pytest.LogCaptureFixture
) -> None:
    subscriber = _active(client, emulator, plan, pump)
    _switch_card(emulator, subscriber, "pm_card_chargeCustomerFail")
    emulator.advance_clock(31 * DAY + 60)
    with caplog.at_level("WARNING", logger="payments.alerts"):
        pump()
    alerts = [r.getMessage() for r in caplog.records if r.name == "payments.alerts"]
    assert alerts and all("ada@example.com" not in text for text in alerts)
    assert any(subscriber.stripe_subscription_id in text and "in_" in text for text in alerts)


def test_first_invoice_unpaid_for_23_hours_expires(
    client: Any, emulator: Any, plan: Plan, pump: Pump
) -> None:
    subscriber, _ = _subscribe(client, plan)
    emulator.advance_clock(22 * 3600)
    pump()
    assert _subscription(subscriber).status == "incomplete"
    emulator.advance_clock(2 * 3600)
    pump()
    sub = _subscription(subscriber)
    assert sub.status == "incomplete_expired" and not subscription_has_access(subscription=sub)
    assert Invoice.objects.get().status == "void"
    page = _account(client, subscriber)
    assert "Not started" in page and "Pay now" not in page
    assert client.get(reverse("billing:account_pay", args=[subscriber.public_token])).status_code == 302
    assert _dunning_mails() == []


def test_a_double_submit_of_the_subscribe_form_makes_one_subscription(
    client: Any, emulator: Any, plan: Plan
) -> None:
    # given the form as the customer's browser has it, with its one-visit token
    form = client.get(reverse("billing:subscribe", args=[plan.slug])).content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    # when it is submitted twice (a double click)
    data = {"email": "ada@example.com", "form_token": token}
    first = client.post(reverse("billing:subscribe", args=[plan.slug]), data)
    second = client.post(reverse("billing:subscribe", args=[plan.slug]), data)
    # then one subscriber, one Stripe customer and one subscription, and both go to the same page
    subscriber = Subscriber.objects.get()
    assert first["Location"] == second["Location"]
    subscriptions = emulator.client().v1.subscriptions.list(
        params={"customer": subscriber.stripe_customer_id}
    )
    assert [s.id for s in subscriptions.data] == [subscriber.stripe_subscription_id]


def test_the_ledger_check_repairs_a_renewal_whose_events_never_came(
    client: Any, emulator: Any, plan: Plan, pump: Pump, eager: None
) -> None:
    # given a renewal declined at Stripe whose events never reached us
    subscriber = _renewal_declined_scenario(client, emulator, plan, pump)
    assert _subscription(subscriber).status == "active"
    stripe_now = datetime.fromtimestamp(emulator.advance_clock(0)["now"], tz=UTC)
    # when the nightly ledger check runs (after the grace period, on Stripe's clock)
    with TestCase.captureOnCommitCallbacks(execute=True):
        ledger_check(window=timedelta(days=40), now=stripe_now + timedelta(hours=2))
    # then the renewal's invoice is mirrored (auto-fixed), the subscription past due, one email
    renewal = Invoice.objects.get(billing_reason="subscription_cycle")
    assert renewal.status == "open"
    case = Discrepancy.objects.get(object_id=renewal.stripe_id)
    assert (case.kind, case.status) == ("missing_local", "auto_fixed")
    assert _subscription(subscriber).status == "past_due"
    assert len(_dunning_mails()) == 1
    # and a second run opens nothing new
    with TestCase.captureOnCommitCallbacks(execute=True):
        again = ledger_check(window=timedelta(days=40), now=stripe_now + timedelta(hours=2))
    assert again.opened == 0
    assert not Discrepancy.objects.filter(status="open").exists()
