"""The gateway's dispute and file functions on the wire, against the loopback fault server:
what they send, their keys on retries, and logs without evidence in them."""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe

from payments import stripe_gateway
from tests.disputes.factories import DISPUTE_FIXTURE
from tests.fault_server import RATE_LIMITED, SERVER_ERROR, FaultServer, Reply

DISPUTE = {**DISPUTE_FIXTURE, "id": "du_1", "status": "needs_response"}
EVIDENCE = {"customer_email_address": "grace@example.org", "customer_name": "Grace Hopper"}


def test_staging_sends_the_evidence_with_submit_false_and_retries_a_500_with_the_same_key(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    fault_server.replies = [SERVER_ERROR, Reply(body=DISPUTE)]
    caplog.set_level(logging.DEBUG)

    answer = stripe_gateway.dispute_update(
        dispute_id="du_1",
        params={"evidence": EVIDENCE, "submit": False},
        idempotency_key="dispute:7:evidence-draft:v1",
    )

    assert answer["id"] == "du_1"
    first, second = fault_server.seen
    assert first.path == second.path == "/v1/disputes/du_1"
    assert first.idempotency_key == second.idempotency_key == "dispute:7:evidence-draft:v1"
    form = parse_qs(second.body)
    assert form["submit"] == ["false"]
    assert form["evidence[customer_email_address]"] == ["grace@example.org"]
    # the log names the operation and the dispute, never the evidence
    assert "du_1" in caplog.text
    assert "grace@example.org" not in caplog.text and "Grace Hopper" not in caplog.text


def test_a_dispute_update_must_say_whether_it_submits() -> None:
    with pytest.raises(ValueError) as caught:
        stripe_gateway.dispute_update(dispute_id="du_1", params={"evidence": EVIDENCE}, idempotency_key="k")
    assert str(caught.value) == stripe_gateway.MESSAGE_SUBMIT_UNSAID


def test_close_and_retrieve(fault_server: FaultServer) -> None:
    fault_server.replies = [Reply(body={**DISPUTE, "status": "lost"})]

    closed = stripe_gateway.dispute_close(dispute_id="du_1", idempotency_key="dispute:7:close:v1")
    fetched = stripe_gateway.dispute_retrieve(dispute_id="du_1")

    assert closed["status"] == fetched["status"] == "lost"
    close, get = fault_server.seen
    assert (close.path, close.idempotency_key) == ("/v1/disputes/du_1/close", "dispute:7:close:v1")
    assert (get.path, get.idempotency_key) == ("/v1/disputes/du_1", None)


def test_a_file_upload_is_multipart_and_a_429_resends_the_whole_file(
    fault_server: FaultServer, sleeps: list[float], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the files base address pointed at the loopback server (the emulator work does this in settings)
    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=settings.STRIPE_API_VERSION,
        base_addresses={"api": fault_server.url, "files": fault_server.url},
        max_network_retries=0,
    )
    monkeypatch.setattr(stripe_gateway, "get_client", functools.cache(lambda: client))
    fault_server.replies = [
        RATE_LIMITED,
        Reply(body={"id": "file_1", "object": "file", "purpose": "dispute_evidence"}),
    ]
    content = b"%PDF-1.4 receipt for ORD-000007"

    upload = stripe_gateway.file_create(
        purpose="dispute_evidence",
        filename="receipt-ORD-000007.pdf",
        content=content,
        content_type="application/pdf",
        idempotency_key="dispute:7:receipt:v1",
    )

    assert upload["id"] == "file_1"
    assert len(sleeps) == 1
    first, second = fault_server.seen
    assert first.path == second.path == "/v1/files"
    assert first.idempotency_key == second.idempotency_key == "dispute:7:receipt:v1"
    for seen in (first, second):
        assert 'name="purpose"' in seen.body and "dispute_evidence" in seen.body
        assert 'name="file"; filename="receipt-ORD-000007.pdf"' in seen.body
        assert content.decode() in seen.body


def test_listing_disputes_follows_the_pages(fault_server: FaultServer) -> None:
    page = {"object": "list", "url": "/v1/disputes", "has_more": True, "data": [{**DISPUTE, "id": "du_1"}]}
    last = {"object": "list", "url": "/v1/disputes", "has_more": False, "data": [{**DISPUTE, "id": "du_2"}]}
    fault_server.replies = [Reply(body=page), Reply(body=last)]

    disputes = list(stripe_gateway.dispute_list(since=1_700_000_000))

    assert [d["id"] for d in disputes] == ["du_1", "du_2"]
    first, second = fault_server.seen
    assert first.path.startswith("/v1/disputes?") and "1700000000" in first.path
    assert "starting_after=du_1" in second.path
