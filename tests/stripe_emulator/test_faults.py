"""Faults on demand: webhook drop/duplicate/delay/reorder/double events/endpoint down; API failures."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
import stripe

from stripe_emulator.faults import parse_cli
from stripe_emulator.testing import EmulatorHandle


def _customers(client: Any, n: int) -> list[str]:
    return [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(n)]


def test_drop_never_delivers_and_stays_pending(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.set_faults(drop_rate=1.0)
    _customers(client, 2)
    assert stripe_emulator.wait_for_deliveries()
    assert webhook_receiver.received == []
    pending = client.v1.events.list(params={"delivery_success": False}).data
    assert len(pending) == 2 and all(e.pending_webhooks == 1 for e in pending)
    assert {d["outcome"] for d in stripe_emulator.deliveries()} == {"dropped"}


def test_duplicate_delivers_twice(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.set_faults(duplicate_rate=1.0)
    _customers(client, 1)
    assert stripe_emulator.wait_for_deliveries()
    ids = [e["id"] for e in webhook_receiver.events()]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_delay(stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.set_faults(delay=0.3, delay_range=[0, 0.1])
    start = time.time()
    _customers(client, 1)
    assert stripe_emulator.wait_for_deliveries()
    assert webhook_receiver.received[0].time - start >= 0.3


def test_reorder_window(stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.configure_webhooks()
    stripe_emulator.set_faults(reorder_window=8)
    created = _customers(client, 8)
    assert stripe_emulator.wait_for_deliveries()
    got = [e["data"]["object"]["id"] for e in webhook_receiver.events()]
    assert sorted(got) == sorted(created) and got != created


def test_two_event_objects_for_one_change(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.set_faults(double_event_rate=1.0)
    cus = client.v1.customers.create(params={"name": "twice"})
    assert stripe_emulator.wait_for_deliveries()
    events = webhook_receiver.events()
    assert len(events) == 2 and events[0]["id"] != events[1]["id"]
    assert {(e["type"], e["data"]["object"]["id"]) for e in events} == {("customer.created", cus.id)}
    assert len(client.v1.events.list().data) == 2


def test_endpoint_down_then_retries_succeed(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.configure_webhooks(first_retry=0.1, max_attempts=6)
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    stripe_emulator.set_faults(endpoint_down_seconds=0.5)
    _customers(client, 1)
    assert stripe_emulator.wait_for_deliveries()
    log = stripe_emulator.deliveries()
    assert log[0]["error"] == "endpoint down (fault)" and log[-1]["outcome"] == "succeeded"
    assert len(webhook_receiver.received) == 1


def test_api_rate_limit_429(stripe_emulator: EmulatorHandle, client: Any, raw: Any) -> None:
    stripe_emulator.set_faults(api=[{"kind": "rate_limit", "path": "^/v1/customers", "count": 1}])
    status, headers, body = raw.request("GET", "/v1/customers")
    assert status == 429 and headers["stripe-rate-limited-reason"] and "stripe-should-retry" not in headers
    assert body["error"]["code"] == "rate_limit"
    stripe_emulator.set_faults(api=[{"kind": "rate_limit", "path": "^/v1/customers", "count": 1}])
    with pytest.raises(stripe.RateLimitError):
        stripe_emulator.client(max_network_retries=2).v1.customers.list()


def test_lock_timeout_is_retried_by_the_sdk(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_faults(api=[{"kind": "lock_timeout", "path": "^/v1/customers$", "count": 1}])
    status, headers, body = raw.request("POST", "/v1/customers", {"name": "x"})
    assert (
        status == 429 and headers["stripe-should-retry"] == "true" and body["error"]["code"] == "lock_timeout"
    )
    stripe_emulator.set_faults(api=[{"kind": "lock_timeout", "path": "^/v1/customers$", "count": 1}])
    cus = stripe_emulator.client(max_network_retries=1).v1.customers.create(params={"name": "x"})
    assert cus.name == "x"


def test_500_twice_then_success(stripe_emulator: EmulatorHandle) -> None:
    stripe_emulator.set_faults(
        api=[{"kind": "error", "path": "^/v1/payment_intents$", "method": "POST", "count": 2}]
    )
    with pytest.raises(stripe.APIError):
        stripe_emulator.client().v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    pi = stripe_emulator.client(max_network_retries=2).v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd"}
    )
    assert pi.status == "requires_payment_method"
    assert len(stripe_emulator.client().v1.payment_intents.list().data) == 1


def test_slow_answer_and_dropped_connection(stripe_emulator: EmulatorHandle, client: Any) -> None:
    stripe_emulator.set_faults(api=[{"kind": "slow", "path": "^/v1/customers$", "seconds": 0.3, "count": 1}])
    start = time.time()
    client.v1.customers.list()
    assert time.time() - start >= 0.3
    stripe_emulator.set_faults(api=[{"kind": "drop", "path": "^/v1/customers$", "count": 1}])
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create(params={"name": "x"})
    assert client.v1.customers.list().data == []


def test_rate_is_deterministic_with_seed(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    def run() -> list[int]:
        stripe_emulator.reset()
        stripe_emulator.set_faults(api=[{"kind": "error", "path": "^/v1/products$", "rate": 0.5}])
        return [raw.request("GET", "/v1/products")[0] for _ in range(12)]

    first = run()
    assert 500 in first and 200 in first
    assert run() == first


def test_clear_and_cli_specs(stripe_emulator: EmulatorHandle, raw: Any) -> None:
    stripe_emulator.set_faults(api=[{"kind": "error", "path": ".*"}])
    stripe_emulator.clear_faults()
    assert raw.request("GET", "/v1/customers")[0] == 200
    assert parse_cli("webhook:drop_rate=0.2,delay_range=0.1-0.5") == {
        "webhook": {"drop_rate": "0.2", "delay_range": [0.1, 0.5]}
    }
    assert parse_cli("api:kind=error,path=^/v1/refunds,count=2") == {
        "api": [{"kind": "error", "path": "^/v1/refunds", "count": "2"}]
    }
    status, _, body = raw.request(
        "POST",
        "/_emulator/faults",
        body='{"nope": 1}',
        key=None,
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and "unknown" in body["error"]["message"]


# --- the same faults on payouts, disputes and files ----------------------------------------------


def _bypass_payment(client: Any, amount: int = 3000, card: str = "pm_card_bypassPending") -> Any:
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "gbp", "payment_method": card, "confirm": True}
    )


def test_api_faults_apply_to_payouts_disputes_and_files(stripe_emulator: EmulatorHandle, client: Any) -> None:
    pi = _bypass_payment(client, card="pm_card_createDispute")
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    stripe_emulator.set_faults(
        api=[
            {"kind": "rate_limit", "path": "^/v1/payouts", "count": 1},
            {"kind": "error", "path": "^/v1/disputes/", "method": "POST", "count": 1},
            {"kind": "rate_limit", "path": "^/v1/balance_transactions", "count": 1},
        ]
    )
    with pytest.raises(stripe.RateLimitError):
        client.v1.payouts.list()
    assert client.v1.payouts.list().data == []
    with pytest.raises(stripe.RateLimitError):
        client.v1.balance_transactions.list()
    # an injected 500 happens before the idempotency layer: the retry with the same key runs it once
    params = {"evidence": {"uncategorized_text": "text"}, "submit": False}
    with pytest.raises(stripe.APIError):
        client.v1.disputes.update(dispute.id, params=params, options={"idempotency_key": "ev-1"})
    staged = client.v1.disputes.update(dispute.id, params=params, options={"idempotency_key": "ev-1"})
    assert staged.evidence_details.has_evidence is True
    assert len(client.v1.events.list(params={"type": "charge.dispute.updated"}).data) == 1


def test_api_faults_apply_to_file_uploads(stripe_emulator: EmulatorHandle, client: Any) -> None:
    stripe_emulator.set_faults(api=[{"kind": "error", "path": "^/v1/files$", "method": "POST", "count": 1}])
    document = io.BytesIO(b"%PDF-1.4\n%%EOF\n")
    document.name = "receipt.pdf"
    with pytest.raises(stripe.APIError):
        client.v1.files.create(params={"purpose": "dispute_evidence", "file": document})
    assert client.v1.files.list().data == []
    document.seek(0)
    upload = client.v1.files.create(params={"purpose": "dispute_evidence", "file": document})
    assert [f.id for f in client.v1.files.list().data] == [upload.id]


def test_webhook_faults_apply_to_payout_events(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url, events=["payout.created", "payout.paid"])
    _bypass_payment(client)
    stripe_emulator.set_faults(duplicate_rate=1.0)
    (payout_id,) = stripe_emulator.run_payouts()
    assert stripe_emulator.wait_for_deliveries()
    created = [e for e in webhook_receiver.events() if e["type"] == "payout.created"]
    assert len(created) == 2 and created[0]["id"] == created[1]["id"]
    stripe_emulator.set_faults(drop_rate=1.0)
    stripe_emulator.advance_clock(3 * 86400)
    assert stripe_emulator.wait_for_deliveries()
    assert not [e for e in webhook_receiver.events() if e["type"] == "payout.paid"]
    (undelivered,) = client.v1.events.list(params={"type": "payout.paid", "delivery_success": False}).data
    assert undelivered.data.object.id == payout_id


def test_reorder_applies_to_dispute_events(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url, events=["charge.dispute.created"])
    stripe_emulator.configure_webhooks()
    stripe_emulator.set_faults(reorder_window=6)
    disputed = [_bypass_payment(client, card="pm_card_createDispute").latest_charge for _ in range(6)]
    assert stripe_emulator.wait_for_deliveries()
    got = [e["data"]["object"]["charge"] for e in webhook_receiver.events()]
    assert sorted(got) == sorted(disputed) and got != disputed


def test_delay_applies_to_dispute_events(
    stripe_emulator: EmulatorHandle, client: Any, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url, events=["charge.dispute.funds_withdrawn"])
    stripe_emulator.set_faults(delay=0.3, delay_range=[0, 0.1])
    start = time.time()
    _bypass_payment(client, card="pm_card_createDispute")
    assert stripe_emulator.wait_for_deliveries()
    (received,) = webhook_receiver.received
    assert received.time - start >= 0.3
