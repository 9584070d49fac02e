"""POST /stripe/webhook/: every bad input is a short 4xx that stores nothing; a good event is
stored once, queued once, and answered in a handful of SQL statements with no Stripe call."""

import json
import time
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from config.celery import app as celery_app
from core.models import DrainWakeup
from payments.models import StripeEvent
from payments.services.events.receive import (
    REASON_BAD_JSON,
    REASON_BAD_SIGNATURE,
    REASON_CONTENT_TYPE,
    REASON_NO_SIGNATURE,
    REASON_NOT_EVENT,
    REASON_TOO_LARGE,
    REASON_WRONG_MODE,
)
from payments.services.events.wakeup import DRAIN_TASK
from tests.factories import OrderFactory, event, payment_intent, signed

pytestmark = pytest.mark.django_db

URL = "/stripe/webhook/"


@pytest.fixture
def no_stripe(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test on any call to Stripe (the request path must make none)."""
    import stripe

    calls: list[str] = []

    def refuse(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(url)
        raise AssertionError(f"the webhook view called Stripe: {method} {url}")

    monkeypatch.setattr(stripe.RequestsClient, "request", refuse)
    monkeypatch.setattr(stripe.RequestsClient, "request_with_retries", refuse)
    return calls


def post(client: Any, body: bytes, signature: str | None, content_type: str = "application/json") -> Any:
    """POST as Stripe does; on-commit callbacks run as they would outside the test transaction."""
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.generic("POST", URL, body, content_type=content_type, **headers)


def a_payload() -> dict[str, Any]:
    order = OrderFactory.build(pk=123, payment_intent_id="pi_view_test")
    return event("payment_intent.succeeded", payment_intent(order))


def test_a_signed_event_is_stored_once_queued_and_acknowledged(client: Any, queued: list[None]) -> None:
    # given
    payload = a_payload()
    body, signature = signed(payload)
    # when
    response = post(client, body, signature)
    # then
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.stripe_id == payload["id"]
    assert stored.type == "payment_intent.succeeded"
    assert stored.object_id == "pi_view_test"
    assert stored.status == StripeEvent.Status.PENDING
    assert stored.source == StripeEvent.Source.WEBHOOK
    assert stored.api_version == payload["api_version"]
    assert stored.livemode is False
    assert int(stored.stripe_created.timestamp()) == payload["created"]
    assert stored.payload == payload
    assert queued == [None]


def test_a_duplicate_is_acknowledged_without_a_second_row_or_task(client: Any, queued: list[None]) -> None:
    body, signature = signed(a_payload())
    assert post(client, body, signature).status_code == 200
    assert post(client, body, signature).status_code == 200
    assert StripeEvent.objects.count() == 1
    assert len(queued) == 1


def test_the_previous_secret_still_verifies_during_rotation(
    client: Any, settings: Any, queued: list[None]
) -> None:
    body, signature = signed(a_payload(), secret=settings.STRIPE_WEBHOOK_SECRETS[1])
    assert post(client, body, signature).status_code == 200
    assert StripeEvent.objects.count() == 1


def test_a_header_with_signatures_for_old_and_new_secret_verifies(
    client: Any, settings: Any, queued: list[None]
) -> None:
    body, current = signed(a_payload())
    unknown = signed(body, secret="whsec_unknown")[1].split(",")[1]
    assert post(client, body, f"{current},{unknown}").status_code == 200


def test_a_future_timestamp_is_accepted_as_the_sdk_does(client: Any, queued: list[None]) -> None:
    body, signature = signed(a_payload(), timestamp=int(time.time()) + 600)
    assert post(client, body, signature).status_code == 200


@pytest.mark.parametrize(
    ("case", "reason", "status"),
    [
        ("bad_signature", REASON_BAD_SIGNATURE, 400),
        ("unknown_secret", REASON_BAD_SIGNATURE, 400),
        ("stale_timestamp", REASON_BAD_SIGNATURE, 400),
        ("tampered_body", REASON_BAD_SIGNATURE, 400),
        ("missing_header", REASON_NO_SIGNATURE, 400),
        ("malformed_json", REASON_BAD_JSON, 400),
        ("not_utf8", REASON_BAD_SIGNATURE, 400),
        ("not_an_event", REASON_NOT_EVENT, 400),
        ("event_without_id", REASON_NOT_EVENT, 400),
        ("json_list", REASON_NOT_EVENT, 400),
        ("form_content_type", REASON_CONTENT_TYPE, 400),
        ("text_content_type", REASON_CONTENT_TYPE, 400),
        ("live_event_on_test_keys", REASON_WRONG_MODE, 400),
        ("too_large", REASON_TOO_LARGE, 413),
    ],
)
def test_bad_input_is_refused_with_a_short_reason_and_nothing_stored(
    client: Any, queued: list[None], settings: Any, case: str, reason: str, status: int
) -> None:
    # given
    payload = a_payload()
    body, signature = signed(payload)
    content_type = "application/json"
    if case == "bad_signature":
        signature = signature[:-4] + "0000"
    elif case == "unknown_secret":
        body, signature = signed(payload, secret="whsec_somebody_else")
    elif case == "stale_timestamp":
        body, signature = signed(payload, timestamp=int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 5)
    elif case == "tampered_body":
        body = body.replace(b'"amount": 4200', b'"amount": 1')
    elif case == "missing_header":
        signature = None
    elif case == "malformed_json":
        body, signature = signed(b'{"id": "evt_1", "object": "event",')
    elif case == "not_utf8":
        body, signature = signed(b"\xff\xfe{}")
    elif case == "not_an_event":
        body, signature = signed({"id": "pi_1", "object": "payment_intent"})
    elif case == "event_without_id":
        body, signature = signed({**payload, "id": None})
    elif case == "json_list":
        body, signature = signed(b"[1, 2]")
    elif case == "form_content_type":
        content_type = "application/x-www-form-urlencoded"
    elif case == "text_content_type":
        content_type = "text/plain"
    elif case == "live_event_on_test_keys":
        body, signature = signed({**payload, "livemode": True})
    elif case == "too_large":
        payload["data"]["object"]["padding"] = "x" * settings.STRIPE_WEBHOOK_MAX_BYTES
        body, signature = signed(payload)
    # when
    response = post(client, body, signature, content_type=content_type)
    # then
    assert response.status_code == status
    assert response.content.decode() == reason
    assert StripeEvent.objects.count() == 0
    assert queued == []


def test_a_test_event_on_live_keys_is_refused(client: Any, settings: Any, queued: list[None]) -> None:
    settings.STRIPE_SECRET_KEY = "sk_live_pretend"
    body, signature = signed(a_payload())
    response = post(client, body, signature)
    assert response.status_code == 400
    assert response.content.decode() == REASON_WRONG_MODE
    assert StripeEvent.objects.count() == 0


def test_a_live_event_on_live_keys_is_stored(client: Any, settings: Any, queued: list[None]) -> None:
    settings.STRIPE_SECRET_KEY = "sk_live_pretend"
    body, signature = signed({**a_payload(), "livemode": True})
    assert post(client, body, signature).status_code == 200
    assert StripeEvent.objects.get().livemode is True


def test_get_is_not_allowed(client: Any) -> None:
    assert client.get(URL).status_code == 405


def test_the_request_path_of_a_new_event_is_at_most_four_statements_and_no_stripe_call(
    client: Any, queued: list[None], no_stripe: list[str]
) -> None:
    # The real wake-up (its row counts); only the broker message is recorded instead of sent.
    body, signature = signed(a_payload())
    with CaptureQueriesContext(connection) as queries:
        response = post(client, body, signature)
    assert response.status_code == 200
    assert len(queries) <= 4, [q["sql"] for q in queries]
    assert queued == [None]
    assert no_stripe == []


def test_the_request_path_of_a_duplicate_is_at_most_two_statements(
    client: Any, queued: list[None], no_stripe: list[str]
) -> None:
    body, signature = signed(a_payload())
    post(client, body, signature)
    with CaptureQueriesContext(connection) as queries:
        response = post(client, body, signature)
    assert response.status_code == 200
    assert len(queries) <= 2, [q["sql"] for q in queries]
    assert no_stripe == []


def test_no_handler_runs_in_the_request(client: Any, queued: list[None]) -> None:
    from payments import handlers

    body, signature = signed(a_payload())
    with mock.patch.dict(handlers.HANDLERS, {"payment_intent.succeeded": mock.Mock()}) as table:
        post(client, body, signature)
        table["payment_intent.succeeded"].assert_not_called()


def test_a_database_error_on_insert_answers_5xx_so_stripe_retries(client: Any, queued: list[None]) -> None:
    body, signature = signed(a_payload())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(broken):
        response = post(client, body, signature)
    assert response.status_code == 503
    assert StripeEvent.objects.count() == 0
    assert queued == []
    # Stripe's retry, once the database is back, is stored.
    assert post(client, body, signature).status_code == 200
    assert StripeEvent.objects.count() == 1


def test_a_broker_that_is_down_still_acknowledges_a_stored_event(
    client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a broker that refuses every message (the drain's publish is the one the request makes)
    attempts: list[str] = []

    def down(name: str, *args: Any, **kwargs: Any) -> Any:
        attempts.append(name)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery_app, "send_task", down)
    # when two events arrive
    for _ in range(2):
        body, signature = signed(a_payload())
        response = post(client, body, signature)
        # then each is stored, so acknowledged: the re-queue job will queue it
        # (tests/payments/test_recovery.py)
        assert response.status_code == 200
    assert list(StripeEvent.objects.values_list("status", flat=True)) == ["pending", "pending"]
    # and each tried the broker: the failed first publish left no wake-up row to silence the second
    assert attempts == [DRAIN_TASK, DRAIN_TASK]
    assert not DrainWakeup.objects.exists()
    assert "drain not queued (ConnectionRefusedError)" in caplog.text


def test_the_stored_payload_is_the_body_as_received(client: Any, queued: list[None]) -> None:
    payload = a_payload()
    body = json.dumps(payload, indent=2).encode()
    body, signature = signed(body)
    post(client, body, signature)
    assert StripeEvent.objects.get().payload == payload
