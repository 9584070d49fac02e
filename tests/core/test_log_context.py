"""A request id and a task id on log lines, to follow one event from the web to the worker."""

import logging

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, TestCase

from config.celery import app
from core.context import ContextFilter, RequestIdMiddleware, task_finished, task_started
from payments.models import StripeEvent
from payments.services.events.process import stripe_event_process
from tests.factories import event, signed

pytestmark = pytest.mark.django_db


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():  # type: ignore[no-untyped-def]
    handler = Capture()
    logger = logging.getLogger("test.context")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_a_sane_request_id_from_the_proxy_is_kept_and_answered_back(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-0123456789abcdef")
    assert response["X-Request-ID"] == "req-0123456789abcdef"


@pytest.mark.parametrize("given", ["", "short", "a" * 65, "bad id with spaces", "x\nInjected: 1"])
def test_a_missing_or_unsafe_request_id_is_replaced(client: Client, given: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) == 32


def test_log_lines_inside_a_request_carry_its_id(captured: Capture) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        logging.getLogger("test.context").info("inside")
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-0123456789abcdef")
    RequestIdMiddleware(view)(request)
    logging.getLogger("test.context").info("after")
    inside, after = captured.records
    assert inside.request_id == "req-0123456789abcdef"  # type: ignore[attr-defined]
    assert not hasattr(after, "request_id")


def test_log_lines_inside_a_task_carry_its_id(captured: Capture) -> None:
    task_started(task_id="0f1e2d3c-task")
    logging.getLogger("test.context").info("inside")
    task_finished()
    logging.getLogger("test.context").info("after")
    inside, after = captured.records
    assert inside.task_id == "0f1e2d3c-task"  # type: ignore[attr-defined]
    assert not hasattr(after, "task_id")


def test_the_celery_app_sets_the_task_id_for_every_task(captured: Capture) -> None:
    @app.task(name="test.context.logs")
    def logs() -> None:
        logging.getLogger("test.context").info("in the task")

    result = logs.apply(task_id="task-id-for-the-log")
    assert result.successful()
    assert captured.records[0].task_id == "task-id-for-the-log"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("payments.drain_stripe_events", "webhooks"),
        ("payments.process_stripe_event", "webhooks"),
        ("orders.send_confirmations", "emails"),
        ("orders.send_missed_confirmations", "emails"),
        ("reconciliation.reconcile_payout", "finance"),
        ("disputes.stage_evidence", "finance"),
    ],
)
def test_tasks_go_to_the_queue_of_their_job(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_one_event_can_be_followed_from_the_web_request_to_the_worker(client: Client) -> None:
    # given handlers capturing the inbox's lines, with the context filter as production has it
    stored, processed = Capture(), Capture()
    logging.getLogger("payments.services.events.receive").addHandler(stored)
    logging.getLogger("payments.services.events.process").addHandler(processed)
    try:
        payload = event("charge.updated", {"id": "ch_follow", "object": "charge"})
        body, signature = signed(payload)
        # when Stripe delivers it (through a proxy that names the request) and a task processes it
        response = client.post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
            HTTP_X_REQUEST_ID="req-follow-0001",
        )
        assert response.status_code == 200
        task_started(task_id="task-follow-0001")
        with TestCase.captureOnCommitCallbacks(execute=True):
            stripe_event_process(event_pk=StripeEvent.objects.get(stripe_id=payload["id"]).pk)
        task_finished()
    finally:
        logging.getLogger("payments.services.events.receive").removeHandler(stored)
        logging.getLogger("payments.services.events.process").removeHandler(processed)
    # then the web's line and the worker's line name the same evt_, each with its own id
    (web,) = [r for r in stored.records if payload["id"] in r.getMessage()]
    (worker,) = [r for r in processed.records if payload["id"] in r.getMessage()]
    assert web.request_id == "req-follow-0001"  # type: ignore[attr-defined]
    assert worker.task_id == "task-follow-0001"  # type: ignore[attr-defined]
