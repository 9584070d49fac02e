"""Prometheus metrics for operators, at `GET /metrics` behind `Authorization: Bearer <METRICS_TOKEN>`.

Every figure is read from PostgreSQL when the endpoint is scraped, not counted in process
memory, so any web process answers for all of them (gunicorn workers and Celery workers share
nothing else). An unset METRICS_TOKEN turns the endpoint off (404); any other request gets 401."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from billing.models import Subscription
from core.models import DrainWakeup
from payments.models import StripeEvent

EVENTS_DRAIN = "stripe-events"


def _age_seconds(when: datetime | None) -> float:
    return max((timezone.now() - when).total_seconds(), 0.0) if when else 0.0


class BooksCollector(Collector):
    """The state of the inbox and of the books, one query per figure family."""

    def collect(self) -> Iterator[Metric]:
        by_status = dict(
            StripeEvent.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        received = CounterMetricFamily("stripe_events_received", "Stripe events stored (all sources).")
        received.add_metric([], sum(by_status.values()))
        yield received
        processed = CounterMetricFamily(
            "stripe_events_processed", "Stripe events processed or ignored.", labels=["outcome"]
        )
        processed.add_metric(["processed"], by_status.get(StripeEvent.Status.PROCESSED, 0))
        processed.add_metric(["ignored"], by_status.get(StripeEvent.Status.IGNORED, 0))
        yield processed
        events = GaugeMetricFamily("stripe_events", "Stripe events by status now.", labels=["status"])
        for status in StripeEvent.Status.values:
            events.add_metric([status], by_status.get(status, 0))
        yield events
        dead = GaugeMetricFamily(
            "stripe_events_dead_lettered", "Events in the dead letter, for staff to replay."
        )
        dead.add_metric([], by_status.get(StripeEvent.Status.DEAD, 0))
        yield dead

        oldest = StripeEvent.objects.filter(
            status__in=[StripeEvent.Status.PENDING, StripeEvent.Status.RETRYING]
        ).aggregate(at=Min("created_at"))["at"]
        age = GaugeMetricFamily(
            "stripe_events_oldest_pending_age_seconds", "Age of the oldest event not yet processed (0: none)."
        )
        age.add_metric([], _age_seconds(oldest))
        yield age

        wakeups = dict(DrainWakeup.objects.values_list("name", "created_at"))
        lag = GaugeMetricFamily(
            "drain_lag_seconds",
            "How long a queued drain has waited for a worker (0: none waiting).",
            labels=["drain"],
        )
        for name, created_at in sorted(wakeups.items()):
            lag.add_metric([name], _age_seconds(created_at))
        if EVENTS_DRAIN not in wakeups:
            lag.add_metric([EVENTS_DRAIN], 0.0)
        yield lag

        past_due = GaugeMetricFamily(
            "subscriptions_past_due", "Subscriptions whose renewal failed while Stripe retries it."
        )
        past_due.add_metric([], Subscription.objects.filter(status=Subscription.Status.PAST_DUE).count())
        yield past_due


def metrics_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BooksCollector())
    return generate_latest(registry)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
