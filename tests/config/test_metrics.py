"""GET /metrics: never public, and the figures operators page on."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.models import DrainWakeup
from disputes.models import Dispute
from payments.models import StripeEvent
from reconciliation.models import Discrepancy, Payout
from tests.factories import event, stored_event

pytestmark = pytest.mark.django_db

TOKEN = "m3tr1cs-t0ken-for-the-scraper"


@pytest.fixture
def metrics_on(settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    response = client.get("/metrics", **headers)
    return response.status_code, response.content.decode()


def store(status: str = StripeEvent.Status.PENDING) -> StripeEvent:
    return stored_event(event("charge.updated", {"id": "ch_metrics", "object": "charge"}), status=status)


def value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics:\n{text}")


def test_metrics_are_off_without_a_token(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = ""
    assert scrape(client)[0] == 404
    assert scrape(client, token="")[0] == 404


@pytest.mark.usefixtures("metrics_on")
@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x", TOKEN[:-1]])
def test_any_other_request_is_refused(client: Client, token: str | None) -> None:
    status, body = scrape(client, token=token)
    assert status == 401
    assert "stripe_events" not in body


@pytest.mark.usefixtures("metrics_on")
def test_a_post_is_refused(client: Client) -> None:
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@pytest.mark.usefixtures("metrics_on")
def test_the_inbox_figures_come_from_the_database(client: Client) -> None:
    # given: two processed events, one dead, one pending for ten minutes, and a drain waiting
    store(status=StripeEvent.Status.PROCESSED)
    store(status=StripeEvent.Status.PROCESSED)
    store(status=StripeEvent.Status.DEAD)
    pending = store()
    StripeEvent.objects.filter(pk=pending.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    DrainWakeup.objects.create(name="stripe-events", created_at=timezone.now() - timedelta(seconds=90))
    # when
    status, text = scrape(client)
    # then
    assert status == 200
    assert value(text, "stripe_events_received_total") == 4
    assert 'stripe_events_processed_total{outcome="processed"} 2.0' in text
    assert value(text, "stripe_events_dead_lettered") == 1
    assert 'stripe_events{status="pending"} 1.0' in text
    assert 599 <= value(text, "stripe_events_oldest_pending_age_seconds") < 700
    assert 'drain_lag_seconds{drain="stripe-events"}' in text
    lag = next(
        line for line in text.splitlines() if line.startswith('drain_lag_seconds{drain="stripe-events"}')
    )
    assert 89 <= float(lag.rsplit(" ", 1)[1]) < 200


@pytest.mark.usefixtures("metrics_on")
def test_an_empty_inbox_reports_zero_age_and_no_lag(client: Client) -> None:
    _, text = scrape(client)
    assert value(text, "stripe_events_oldest_pending_age_seconds") == 0
    assert 'drain_lag_seconds{drain="stripe-events"} 0.0' in text


@pytest.mark.usefixtures("metrics_on")
def test_what_finance_must_act_on(client: Client) -> None:
    # given: one paid payout that does not add up (and one that does, one still in transit),
    # an open and a resolved ledger case, a dispute due in 20 h and one due in 5 days
    payouts = [("po_1", "paid", False), ("po_2", "paid", True), ("po_3", "in_transit", False)]
    for stripe_id, status, reconciled in payouts:
        Payout.objects.create(
            stripe_id=stripe_id,
            amount=100,
            currency="gbp",
            status=status,
            reconciled=reconciled,
            unexplained=0 if reconciled else None,
            automatic=True,
        )
    Discrepancy.objects.create(kind="missing_local", object_id="ch_1", detail="ch_1")
    Discrepancy.objects.create(
        kind="missing_local", object_id="ch_2", detail="ch_2", status="resolved", resolved_at=timezone.now()
    )
    for stripe_id, hours in [("dp_soon", 20), ("dp_later", 120)]:
        Dispute.objects.create(stripe_id=stripe_id, amount=100, currency="gbp", status="needs_response",
                               evidence_due_by=timezone.now() + timedelta(hours=hours))  # fmt: skip
    # when
    _, text = scrape(client)
    # then
    assert value(text, "payouts_unreconciled") == 1
    assert value(text, "discrepancies_open") == 1
    assert value(text, "disputes_due_within_24h") == 1
