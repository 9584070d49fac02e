"""Prometheus metrics for operators, at `GET /metrics` behind `Authorization: Bearer <METRICS_TOKEN>`.

Every figure is read from PostgreSQL when the endpoint is scraped, not counted in process
memory, so any web process answers for all of them (gunicorn workers and Celery workers share
nothing else); the Stripe API budget's usage is read from its counters in Redis
(`payments.stripe_budget.usage`, shared by every process when STRIPE_RATE_LIMIT_URL is set).
An unset METRICS_TOKEN turns the endpoint off (404); any other request gets 401."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta

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
from disputes.models import RESPONDABLE_STATUSES, Dispute
from payments import stripe_budget
from payments.models import StripeEvent
from reconciliation.models import Discrepancy, Payout

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


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


class FinanceCollector(Collector):
    """What finance staff must act on: payouts not matched, ledger cases, dispute deadlines."""

    def collect(self) -> Iterator[Metric]:
        yield _gauge(
            "payouts_unreconciled",
            "Paid automatic payouts whose balance transactions do not (yet) add up to them.",
            Payout.objects.filter(status=Payout.Status.PAID, automatic=True, reconciled=False).count(),
        )
        yield _gauge(
            "discrepancies_open",
            "Open cases of the ledger check, for finance staff to resolve.",
            Discrepancy.objects.filter(status=Discrepancy.Status.OPEN).count(),
        )
        yield _gauge(
            "disputes_due_within_24h",
            "Disputes needing a response, with nothing submitted, due within 24 hours (or past due).",
            Dispute.objects.filter(
                status__in=RESPONDABLE_STATUSES,
                submission_count=0,
                evidence_due_by__lte=timezone.now() + timedelta(hours=24),
            ).count(),
        )


class StripeBudgetCollector(Collector):
    """Calls to Stripe, waits for the budget and Stripe's 429s, by priority (customer, background).
    `rate(stripe_api_calls_total[1m])` is the calls per second."""

    FAMILIES = (
        ("calls", "stripe_api_calls", "Requests sent to Stripe (each attempt and each page)."),
        ("waits", "stripe_api_budget_waits", "Requests that waited for a token of the API budget."),
        ("wait_seconds", "stripe_api_budget_wait_seconds", "Seconds spent waiting for the API budget."),
        ("rate_limited", "stripe_api_rate_limited", "Rate-limit 429s answered by Stripe."),
    )

    def collect(self) -> Iterator[Metric]:
        usage = stripe_budget.usage()
        for counter, name, documentation in self.FAMILIES:
            family = CounterMetricFamily(name, documentation, labels=["priority"])
            for level in stripe_budget.PRIORITIES:
                family.add_metric([level], usage[counter][level])
            yield family


def metrics_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BooksCollector())
    registry.register(FinanceCollector())
    registry.register(StripeBudgetCollector())
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
