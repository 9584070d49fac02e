"""The order's admin page is the hub: besides its PaymentIntent and charge attempts, it lists
its refunds, the payouts its money went out in and its Stripe events, each linked to its own
admin page, money formatted, nothing editable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.urls import reverse

from disputes.models import Dispute
from payments.models import Refund, StripeEvent
from payments.selectors import ORDER_EVENTS_SHOWN
from reconciliation.models import BalanceTransaction, Payout
from tests.factories import ChargeFactory, OrderFactory, PaymentIntentFactory, charge, event, stored_event

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def order_page(admin_client: Any, order: Any) -> str:
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    return str(response.content.decode())


def stored(type: str, obj: dict[str, Any], at: datetime) -> StripeEvent:
    return stored_event(event(type, obj, created=int(at.timestamp())), status=StripeEvent.Status.PROCESSED)


def test_the_order_page_lists_its_refunds_payouts_and_events_each_linked(admin_client: Any) -> None:
    # given a paid order, partly refunded, disputed, paid out, with events about each object
    order = OrderFactory(amount=4200, amount_refunded=1000, status="disputed")
    intent = PaymentIntentFactory(order=order, stripe_id=order.payment_intent_id)
    attempt = ChargeFactory(payment_intent=intent)
    refund = Refund.objects.create(
        stripe_id="re_hub1", order=order, payment_intent_id=order.payment_intent_id,
        charge_id=attempt.stripe_id, amount=1000, currency="gbp", status="succeeded",
    )  # fmt: skip
    # a refund made in the Dashboard, mirrored before its order was known
    Refund.objects.create(
        stripe_id="re_hub_dashboard", order=None, payment_intent_id=order.payment_intent_id,
        charge_id=attempt.stripe_id, amount=500, currency="gbp", status="pending",
    )  # fmt: skip
    dispute = Dispute.objects.create(
        stripe_id="dp_hub1", charge_id=attempt.stripe_id, order=order, amount=3200, currency="gbp",
        status="needs_response",
    )  # fmt: skip
    payout = Payout.objects.create(
        stripe_id="po_hub1", amount=4050, currency="gbp", status=Payout.Status.PAID, arrival_date=T0
    )
    charge_line = BalanceTransaction.objects.create(
        stripe_id="txn_hub_charge", type="charge", reporting_category="charge", amount=4200, fee=150,
        net=4050, currency="gbp", payout=payout, order=order, stripe_created=T0,
    )  # fmt: skip
    BalanceTransaction.objects.create(
        stripe_id="txn_hub_refund", type="refund", reporting_category="refund", amount=-1000, fee=0,
        net=-1000, currency="gbp", order=order, stripe_created=T0 + timedelta(hours=1),
    )  # fmt: skip
    events = [
        stored("payment_intent.succeeded", {"id": order.payment_intent_id}, T0),
        stored("charge.succeeded", charge(order, id=attempt.stripe_id), T0 + timedelta(seconds=1)),
        stored("refund.created", {"id": "re_hub1", "object": "refund"}, T0 + timedelta(hours=1)),
        stored("charge.dispute.created", {"id": "dp_hub1", "object": "dispute"}, T0 + timedelta(hours=2)),
    ]
    other = stored("payment_intent.succeeded", {"id": "pi_someone_else"}, T0)

    # when staff open the order
    page = order_page(admin_client, order)

    # then its refund: linked to its own page, the amount as money
    assert f'<a href="{reverse("admin:payments_refund_change", args=[refund.pk])}">re_hub1</a>' in page
    assert "<td>£10.00</td><td>succeeded</td>" in page
    assert "re_hub_dashboard</a></td><td>£5.00</td><td>pending</td>" in page
    # the payouts its money went out in, line by line, and a line not paid out yet
    line_url = reverse("admin:reconciliation_balancetransaction_change", args=[charge_line.pk])
    assert f'<a href="{line_url}">txn_hub_charge</a>' in page
    assert f'<a href="{reverse("admin:reconciliation_payout_change", args=[payout.pk])}">po_hub1</a>' in page
    assert "<td>charge</td><td>£42.00</td><td>£1.50</td><td>£40.50</td>" in page
    assert "paid · 2026-11-20" in page
    assert "<td>refund</td><td>-£10.00</td><td>£0.00</td><td>-£10.00</td><td>not paid out yet</td>" in page
    # its events, newest first, each linked, and never another order's
    links = [reverse("admin:payments_stripeevent_change", args=[e.pk]) for e in events]
    positions = [page.index(f'<a href="{link}">') for link in links]
    assert positions == sorted(positions, reverse=True)
    assert other.stripe_id not in page
    assert "All 4 events of this order" in page
    # the dispute stays listed, linked, with its status
    dispute_url = reverse("admin:disputes_dispute_change", args=[dispute.pk])
    assert f'<a href="{dispute_url}">dp_hub1 · needs_response</a>' in page
    # and nothing can be edited or saved
    assert 'name="_save"' not in page and "<textarea" not in page


def test_the_events_list_is_capped_and_links_to_all_of_them(admin_client: Any) -> None:
    # given an order whose PaymentIntent has had more events than the page shows
    order = OrderFactory()
    made = [
        stored("payment_intent.updated", {"id": order.payment_intent_id}, T0 + timedelta(minutes=i))
        for i in range(ORDER_EVENTS_SHOWN + 5)
    ]

    page = order_page(admin_client, order)

    shown = [e for e in made if reverse("admin:payments_stripeevent_change", args=[e.pk]) in page]
    assert shown == made[-ORDER_EVENTS_SHOWN:]  # the newest ones
    assert f"All {ORDER_EVENTS_SHOWN + 5} events of this order" in page
    assert f"(this list shows the newest {ORDER_EVENTS_SHOWN} of {ORDER_EVENTS_SHOWN + 5})" in page

    # and the link opens the events list filtered to the order's objects
    href = page.split('id="order-events-all"')[0].rsplit('href="', 1)[1].split('"')[0]
    listing = admin_client.get(href)
    assert listing.status_code == 200
    assert f"{ORDER_EVENTS_SHOWN + 5} stripe events" in listing.content.decode().lower()


def test_an_order_with_nothing_after_the_payment_shows_dashes(admin_client: Any) -> None:
    order = OrderFactory(payment_intent_id=None)
    page = order_page(admin_client, order)
    assert "All 0 events" not in page
    assert "Refunds, payouts and events" in page
