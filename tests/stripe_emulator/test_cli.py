"""`python -m stripe_emulator trigger <event>` and `resend <evt_id>`, like the Stripe CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stripe_emulator import cli
from stripe_emulator.testing import SECRET_KEY, EmulatorHandle

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], emulator: EmulatorHandle, *args: str) -> tuple[int, Any]:
    code = cli.main(["--api", emulator.url, "--api-key", SECRET_KEY, *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else err


@pytest.mark.parametrize(
    ("event_type", "made"),
    [
        ("payment_intent.succeeded", {"payment_intent", "charge"}),
        ("payment_intent.payment_failed", {"payment_intent", "charge"}),
        ("charge.refunded", {"payment_intent", "charge", "refund"}),
        ("charge.dispute.created", {"payment_intent", "charge", "dispute"}),
        ("payout.created", {"payment_intent", "payout"}),
        ("payout.paid", {"payment_intent", "payout"}),
        ("checkout.session.completed", {"checkout_session", "payment_intent"}),
    ],
)
def test_trigger_makes_the_objects_and_delivers_the_event(
    stripe_emulator: EmulatorHandle,
    webhook_receiver: Any,
    capsys: pytest.CaptureFixture[str],
    event_type: str,
    made: set[str],
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    code, answer = _run(capsys, stripe_emulator, "trigger", event_type)
    assert code == 0 and set(answer["objects"]) == made and all(answer["objects"].values())
    [event_id] = answer["events"]
    delivered = [e for e in webhook_receiver.events() if e["type"] == event_type]
    assert [e["id"] for e in delivered] == [event_id]
    assert webhook_receiver.received[0].signature  # signed as Stripe signs


def test_resend_delivers_the_same_event_again(
    stripe_emulator: EmulatorHandle, webhook_receiver: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    _, answer = _run(capsys, stripe_emulator, "trigger", "payment_intent.succeeded")
    [event_id] = answer["events"]
    before = len(webhook_receiver.received)
    code, resent = _run(capsys, stripe_emulator, "resend", event_id, "--webhook-endpoint", endpoint["id"])
    assert code == 0 and resent["endpoints"] == [endpoint["id"]]
    assert webhook_receiver.wait_for(before + 1)
    assert webhook_receiver.events()[-1]["id"] == event_id
    code, _ = _run(capsys, stripe_emulator, "resend", "evt_unknown")
    assert code == 1


def test_a_failed_renewal_leaves_the_subscription_past_due(
    stripe_emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, made = _run(capsys, stripe_emulator, "trigger", "invoice.payment_failed")
    assert code == 0 and len(made["events"]) == 1
    client = stripe_emulator.client()
    assert client.v1.subscriptions.retrieve(made["objects"]["subscription"]).status == "past_due"
    invoice = client.v1.invoices.retrieve(made["objects"]["invoice"])
    assert (invoice.status, invoice.attempt_count) == ("open", 1)


def test_an_event_it_cannot_make_says_which_it_can(
    stripe_emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(capsys, stripe_emulator, "trigger", "customer.tax_id.created")
    assert code == 2 and "payment_intent.succeeded" in err


def test_python_dash_m_stripe_emulator_trigger(
    stripe_emulator: EmulatorHandle, webhook_receiver: Any
) -> None:
    stripe_emulator.add_webhook_endpoint(webhook_receiver.url)
    command = [sys.executable, "-m", "stripe_emulator", "--api", stripe_emulator.url, "--api-key", SECRET_KEY]
    done = subprocess.run(
        [*command, "trigger", "charge.succeeded"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    delivered = [e["id"] for e in webhook_receiver.events() if e["type"] == "charge.succeeded"]
    assert json.loads(done.stdout)["events"] == delivered
