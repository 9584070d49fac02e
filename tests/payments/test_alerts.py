"""Alerts tell people what happened with identifiers only: never an email, a name, an address or
a card number, on any channel (log, email, chat webhook)."""

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest
from django.core import mail

from payments import handlers
from payments.alerts import AlertKind, alert_send
from payments.models import StripeEvent
from payments.services.events.process import stripe_event_process
from tests.factories import OrderFactory, charge, event, payment_intent, stored_event

pytestmark = pytest.mark.django_db

CARD_NUMBER = "4000000000009995"
PERSONAL = {
    "email": "grace.hopper@example.org",
    "name": "Grace Brewster Hopper",
    "billing_address": {
        "line1": "1 Navy Yard Lane",
        "city": "Arlington",
        "postal_code": "22201",
        "country": "US",
    },
}


@pytest.fixture
def chat(settings: Any) -> Iterator[list[dict[str, Any]]]:
    """A loopback chat webhook that records what it is sent."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ALERT_CHAT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings.ALERT_EMAILS = ["ops@example.com", "finance@example.com"]
    yield received
    server.shutdown()
    server.server_close()


def everything_sent(chat: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> str:
    mails = [f"{m.subject}\n{m.body}" for m in mail.outbox]
    logs = [record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records]
    return "\n".join([*mails, *(json.dumps(c) for c in chat), *logs])


def assert_nothing_personal(text: str) -> None:
    for value in (
        PERSONAL["email"],
        PERSONAL["name"],
        "Hopper",
        "Navy Yard",
        "22201",
        "Arlington",
        CARD_NUMBER,
    ):
        assert value not in text


def test_a_payment_failure_alert_carries_identifiers_only(
    chat: list[dict[str, Any]], caplog: pytest.LogCaptureFixture, process: Callable[..., StripeEvent]
) -> None:
    # given an order with real personal data, and a payload full of it (and a card number)
    caplog.set_level(logging.INFO)
    order = OrderFactory(**PERSONAL, shipping_address=PERSONAL["billing_address"])
    failed = payment_intent(
        order,
        status="requires_payment_method",
        last_payment_error={
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": f"Card {CARD_NUMBER} of {PERSONAL['name']} declined",
            "payment_method": {"billing_details": {"email": PERSONAL["email"], "name": PERSONAL["name"]}},
        },
        receipt_email=PERSONAL["email"],
        shipping={"name": PERSONAL["name"], "address": PERSONAL["billing_address"]},
    )
    # when
    process(event("payment_intent.payment_failed", failed))
    process(event("charge.failed", charge(order, status="failed", receipt_number=CARD_NUMBER)))
    # then every channel got the alert, made of identifiers
    expected = f"Order {order.number}: payment failed, insufficient_funds, {order.payment_intent_id}"
    assert [m.to for m in mail.outbox] == [["ops@example.com", "finance@example.com"]]
    assert expected in mail.outbox[0].subject
    assert chat[0]["text"] == expected
    assert chat[0]["kind"] == AlertKind.PAYMENT_FAILED
    assert any(expected in record.getMessage() for record in caplog.records)
    assert_nothing_personal(everything_sent(chat, caplog))


def test_a_dead_letter_alert_carries_identifiers_only(
    chat: list[dict[str, Any]], caplog: pytest.LogCaptureFixture, queued: list[None]
) -> None:
    caplog.set_level(logging.INFO)
    order = OrderFactory(**PERSONAL)
    row = stored_event(event("charge.succeeded", charge(order)))

    def boom(event: StripeEvent) -> None:
        raise ValueError(f"{PERSONAL['email']} {PERSONAL['name']} {CARD_NUMBER}")

    with mock.patch.dict(handlers.HANDLERS, {"charge.succeeded": boom}):
        stripe_event_process(event_pk=row.pk)
    assert chat[0]["kind"] == AlertKind.EVENT_DEAD
    assert row.stripe_id in chat[0]["text"]
    # nothing personal in the alert or the logs, and no card number or email on the row
    assert_nothing_personal(everything_sent(chat, caplog))
    row.refresh_from_db()
    assert row.last_error.startswith("ValueError: [email]")
    assert CARD_NUMBER not in row.last_error


def test_a_chat_webhook_that_is_down_does_not_break_the_work(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ALERT_CHAT_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    settings.ALERT_EMAILS = []
    alert_send(
        kind=AlertKind.PAYMENT_FAILED, message="Order ORD-000001: payment failed", ids={"order": "ORD-000001"}
    )
    assert "chat webhook not reached" in caplog.text


def test_no_channel_configured_still_logs(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.ALERT_CHAT_WEBHOOK_URL = ""
    settings.ALERT_EMAILS = []
    alert_send(kind=AlertKind.EVENTS_RECOVERED, message="Recovered 1 missed Stripe events: evt_1", ids={})
    assert "Recovered 1 missed Stripe events: evt_1" in caplog.text
    assert mail.outbox == []
