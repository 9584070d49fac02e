"""The evidence holds personal data by nature; it goes only to Stripe and to Finance staff. No
alert (log, email, chat), log line, audit row, event error or API error carries any of it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from disputes.models import Dispute, EvidenceDraft
from disputes.services import DisputeActionRefused, dispute_deadlines_check, dispute_evidence_submit
from payments import alerts
from payments.models import StaffAction, StripeEvent
from payments.stripe_gateway import InvalidRequest
from tests.disputes.factories import NOW, ChargeFactory, FakeStripe, dispute_object, efw_object, paid_order
from tests.factories import OrderItemFactory, event

pytestmark = pytest.mark.django_db

EMAIL = "grace.hopper@example.org"
NAME = "Grace Brewster Hopper"
LINE1 = "1 Navy Yard Lane"
POSTCODE = "22201"
IP = "198.51.100.77"
PERSONAL = (EMAIL, NAME, LINE1, POSTCODE, IP, "Navy Yard")


def customer_order(**fields: Any) -> Any:
    return paid_order(
        email=EMAIL,
        name=NAME,
        billing_address={"line1": LINE1, "city": "Arlington", "postal_code": POSTCODE, "country": "US"},
        customer_ip=IP,
        **fields,
    )


@pytest.fixture
def chat(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the chat webhook would be sent."""
    settings.ALERT_CHAT_WEBHOOK_URL = "http://127.0.0.1:9/chat"
    sent: list[str] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *args: Any) -> None:
            pass

        def read(self) -> bytes:
            return b"ok"

    def urlopen(request: Any, timeout: float) -> Answer:
        sent.append(request.data.decode())
        return Answer()

    monkeypatch.setattr(alerts.urllib.request, "urlopen", urlopen)
    return sent


def test_no_alert_log_line_audit_row_or_error_carries_the_evidences_personal_data(
    process: Callable[..., StripeEvent],
    fake_stripe: FakeStripe,
    evidence_queued: list[int],
    alert_settings: Any,
    chat: list[str],
    finance_user: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=finance_user).key}")

    # a dispute opens on an order: alerted, evidence assembled and staged
    order = customer_order()
    charge = ChargeFactory(order=order)
    obj = fake_stripe.add(dispute_object(charge, due_in=80 * 3600))
    process(event("radar.early_fraud_warning.created", efw_object(charge)))
    process(event("charge.dispute.created", obj, created=NOW - 50))
    dispute = Dispute.objects.get(stripe_id=obj["id"])
    # the deadline comes near and passes
    assert dispute.evidence_due_by is not None
    for hours in (71, 23, -1):
        dispute_deadlines_check(now=dispute.evidence_due_by - timedelta(hours=hours))
    # staff add too much text (quoting the customer) and are told so
    too_long = client.post(
        f"/api/finance/disputes/{dispute.stripe_id}/submit/",
        {"uncategorized_text": f"{NAME} <{EMAIL}> at {LINE1} " * 1000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    errors.append(too_long.content.decode())
    # Stripe refuses a submission
    fake_stripe.fail_next = [InvalidRequest("Stripe refused dispute.update: invalid_request.", code="x")]
    try:
        dispute_evidence_submit(dispute=dispute, user=finance_user)
    except DisputeActionRefused as error:
        errors.append(str(error))
    # then it is submitted
    done = client.post(
        f"/api/finance/disputes/{dispute.stripe_id}/submit/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert done.status_code == 200
    # another order's evidence is over Stripe's limits and is refused
    big = customer_order()
    for _ in range(90):
        OrderItemFactory(order=big, product_name=f"{NAME} " + "x" * 200, unit_amount=100, currency="gbp")
    big_obj = fake_stripe.add(dispute_object(ChargeFactory(order=big)))
    process(event("charge.dispute.created", big_obj))
    process(event("charge.dispute.closed", {**big_obj, "status": "lost"}))

    # the evidence itself does hold the personal data (so the checks below can fail)
    fields = EvidenceDraft.objects.filter(dispute=dispute).latest("revision").fields
    assert fields["customer_email_address"] == EMAIL and LINE1 in fields["billing_address"]
    assert fields["customer_purchase_ip"] == IP
    # and alerts were sent on every channel
    assert len(mail.outbox) >= 7 and len(chat) == len(mail.outbox)

    said = [
        caplog.text,
        *(f"{m.subject}\n{m.body}" for m in mail.outbox),
        *chat,
        *errors,
        *StripeEvent.objects.values_list("last_error", flat=True),
        *(json.dumps([a.action, a.target, a.outcome]) for a in StaffAction.objects.all()),
        *EvidenceDraft.objects.values_list("problem", flat=True),
    ]
    assert len(errors) == 2
    for text in said:
        for value in PERSONAL:
            assert value not in text, f"{value!r} leaked into: {text[:200]}"
