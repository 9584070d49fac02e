"""GET /metrics: never public, and the figures operators page on."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.models import DrainWakeup
from payments.models import StripeEvent
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
