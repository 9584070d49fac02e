"""`python -m stripe_emulator` as a process: --data persistence across a restart, --webhook, --fault."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stripe

KEY = "sk_test_process_0000000000000000"


@contextmanager
def emulator_process(*args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        yield json.loads(line)["stripe_emulator"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(url: str) -> Any:
    return stripe.StripeClient(KEY, base_addresses={"api": url}, max_network_retries=0)


def test_data_file_survives_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "emulator.sqlite3")
    with emulator_process("--data", data, "--seed", "7") as url:
        client = _client(url)
        cus = client.v1.customers.create(params={"email": "keep@example.com"})
        pi = client.v1.payment_intents.create(
            params={
                "amount": 1234,
                "currency": "usd",
                "customer": cus.id,
                "payment_method": "pm_card_visa",
                "confirm": True,
            },
            options={"idempotency_key": "persisted-key"},
        )
    with emulator_process("--data", data) as url:
        client = _client(url)
        assert client.v1.customers.retrieve(cus.id).email == "keep@example.com"
        again = client.v1.payment_intents.retrieve(pi.id)
        assert again.status == "succeeded" and again.amount_received == 1234
        assert client.v1.charges.retrieve(again.latest_charge).paid is True
        assert len(client.v1.events.list(params={"limit": 100}).data) >= 4
        # The idempotency record survived too: a retry after a crash does not charge twice.
        replay = client.v1.payment_intents.create(
            params={
                "amount": 1234,
                "currency": "usd",
                "customer": cus.id,
                "payment_method": "pm_card_visa",
                "confirm": True,
            },
            options={"idempotency_key": "persisted-key"},
        )
        assert replay.id == pi.id
        new = client.v1.customers.create(params={"name": "after restart"})
        assert [c.id for c in client.v1.customers.list().data] == [new.id, cus.id]


def test_preregistered_webhook_and_cli_fault(webhook_receiver: Any) -> None:
    secret = "whsec_from_the_command_line"
    with emulator_process(
        "--webhook",
        webhook_receiver.url,
        "--webhook-secret",
        secret,
        "--fault",
        "api:kind=error,path=^/v1/products$,count=1",
    ) as url:
        client = _client(url)
        client.v1.customers.create(params={"name": "hook"})
        assert webhook_receiver.wait_for(1)
        hook = webhook_receiver.received[0]
        event = stripe.Webhook.construct_event(hook.body, hook.signature, secret)
        assert event.type == "customer.created"
        try:
            client.v1.products.create(params={"name": "p"})
            raise AssertionError("expected the injected 500")
        except stripe.APIError:
            pass
        assert client.v1.products.create(params={"name": "p"}).name == "p"


def _control(url: str, path: str, body: dict[str, Any]) -> Any:
    import urllib.request

    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_payouts_and_account_settings_survive_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "emulator.sqlite3")
    with emulator_process("--data", data) as url:
        client = _client(url)
        _control(url, "/_emulator/account", {"available_days": 5})
        paid = client.v1.payment_intents.create(
            params={
                "amount": 3000,
                "currency": "gbp",
                "payment_method": "pm_card_bypassPending",
                "confirm": True,
            }
        )
        (payout_id,) = _control(url, "/_emulator/payouts/run", {})["payouts"]
        pending = client.v1.payment_intents.create(
            params={"amount": 2000, "currency": "gbp", "payment_method": "pm_card_gb", "confirm": True}
        )
    with emulator_process("--data", data) as url:
        client = _client(url)
        listed = client.v1.balance_transactions.list(params={"payout": payout_id, "expand": ["data.source"]})
        assert [t.source.id for t in listed.data] == [payout_id, paid.latest_charge]
        assert _control(url, "/_emulator/account", {})["available_days"] == 5
        # the still-pending charge is not paid out by a run after the restart
        assert _control(url, "/_emulator/payouts/run", {})["payouts"] == []
        txn = client.v1.balance_transactions.list(params={"source": pending.latest_charge}).data[0]
        assert txn.status == "pending"
