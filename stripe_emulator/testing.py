"""Pytest plugin: `pytest_plugins = ["stripe_emulator.testing"]`.

Fixtures:
- `stripe_emulator_server` (session): the emulator on a free loopback port, in a background thread.
- `stripe_emulator` (function): resets all state, yields an `EmulatorHandle`, and after the test
  resets again and waits for any webhook delivery still on the wire.
- `webhook_receiver` (function): a loopback HTTP server that records webhook deliveries and
  answers with scripted status codes.

Nothing here imports Django.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .server import EmulatorServer, make_server, serve_in_thread
from .state import Emulator

SECRET_KEY = "sk_test_emulator_0000000000000000"
PUBLISHABLE_KEY = "pk_test_emulator_0000000000000000"
RESTRICTED_KEY = "rk_test_emulator_0000000000000000"
LIVE_SECRET_KEY = "sk_live_emulator_0000000000000000"
API_KEYS = (SECRET_KEY, PUBLISHABLE_KEY, RESTRICTED_KEY, LIVE_SECRET_KEY)


class EmulatorHandle:
    """Drives an emulator through its control endpoints (so it works against any emulator URL)."""

    def __init__(self, url: str, emulator: Emulator | None = None, secret_key: str = SECRET_KEY) -> None:
        self.url = url.rstrip("/")
        self.secret_key = secret_key
        self.publishable_key = PUBLISHABLE_KEY
        self.emulator = emulator  # the in-process object, when there is one

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        data = json.dumps(body or {}).encode() if method != "GET" else None
        req = urllib.request.Request(  # noqa: S310 (our own http:// URL)
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (our own http:// URL)
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path} → {exc.code}: {exc.read().decode()}") from None

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def set_faults(self, **spec: Any) -> dict[str, Any]:
        """`set_faults(drop_rate=0.5)` or `set_faults(api=[{"kind": "error", "path": "^/v1/refunds"}])`."""
        return self._call("POST", "/_emulator/faults", spec)

    def clear_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults")

    def set_rate_limits(self, enabled: bool = True, **limits: Any) -> dict[str, Any]:
        """`set_rate_limits(test={"default": 25})`: Stripe's limiter on (see `ratelimit.py`)."""
        return self._call("POST", "/_emulator/rate_limits", {"enabled": enabled, **limits})

    def rate_limits(self) -> dict[str, Any]:
        """The limiter's settings and its counts of allowed and limited requests."""
        return self._call("GET", "/_emulator/rate_limits")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/_emulator/clock/advance", {"seconds": seconds})

    def configure_webhooks(self, **policy: Any) -> dict[str, Any]:
        """first_retry (s), factor, max_attempts, timeout (s)."""
        return self._call("POST", "/_emulator/webhooks/config", policy)

    def add_webhook_endpoint(
        self, url: str, events: list[str] | None = None, secret: str | None = None
    ) -> dict[str, Any]:
        """Returns the endpoint with its `id` and `secret`."""
        return self._call(
            "POST", "/_emulator/webhook_endpoints", {"url": url, "events": events or ["*"], "secret": secret}
        )

    def roll_webhook_secret(self, endpoint_id: str, expire_in: float = 0) -> dict[str, Any]:
        return self._call(
            "POST", f"/_emulator/webhook_endpoints/{endpoint_id}/roll_secret", {"expire_in": expire_in}
        )

    def complete_3ds(self, pi_id: str) -> dict[str, Any]:
        return self._call("POST", f"/_emulator/payment_intents/{pi_id}/3ds", {"outcome": "complete"})

    def complete_setup_3ds(self, seti_id: str, outcome: str = "complete") -> dict[str, Any]:
        return self._call("POST", f"/_emulator/setup_intents/{seti_id}/authenticate", {"outcome": outcome})

    def fail_3ds(self, pi_id: str) -> dict[str, Any]:
        return self._call("POST", f"/_emulator/payment_intents/{pi_id}/3ds", {"outcome": "fail"})

    def pay_checkout_session(self, cs_id: str, card: str = "4242424242424242") -> dict[str, Any]:
        """Pay as the hosted page does; `card` is a raw test number or a `pm_card_*` id."""
        return self._call("POST", f"/_emulator/checkout/sessions/{cs_id}/pay", {"card": card})

    def deliveries(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/deliveries")["data"]

    def wait_for_deliveries(self, timeout: float = 10) -> bool:
        # the emulator answers when idle or after `timeout`: the socket must wait longer than that
        answer = self._call("POST", "/_emulator/deliveries/wait", {"timeout": timeout}, timeout=timeout + 30)
        return bool(answer["idle"])

    def configure_account(self, **settings: Any) -> dict[str, Any]:
        """available_days, payout_schedule ("daily"|"manual"), payout_arrival_days,
        payout_in_transit_seconds, dispute_due_days, dispute_decision_seconds."""
        return self._call("POST", "/_emulator/account", settings)

    def run_payouts(self) -> list[str]:
        """Pay out the available balance now (the clock does not move); the new payout ids."""
        return list(self._call("POST", "/_emulator/payouts/run")["payouts"])

    def fail_payout(self, payout_id: str, failure_code: str = "account_closed") -> dict[str, Any]:
        return self._call("POST", f"/_emulator/payouts/{payout_id}/fail", {"failure_code": failure_code})

    def seed_payout(
        self, count: int, currency: str = "gbp", amount: int = 1000, pay_out: bool = True
    ) -> dict[str, Any]:
        """One automatic payout of `count` charge transactions (seconds for 100,000):
        `{"payout": "po_…", "amount": …, "balance_transactions": count + 1}`. With
        `pay_out=False` the transactions stay available for the next run (`payout` is None)."""
        body = {"count": count, "currency": currency, "amount": amount, "pay_out": pay_out}
        return self._call("POST", "/_emulator/payouts/seed", body, timeout=600)

    def open_dispute(
        self, charge_id: str, reason: str = "fraudulent", inquiry: bool = False, amount: int | None = None
    ) -> dict[str, Any]:
        """Dispute any captured charge as its issuer would (the dispute cards do it by themselves)."""
        body = {"reason": reason, "inquiry": inquiry, "amount": amount}
        return self._call("POST", f"/_emulator/charges/{charge_id}/dispute", body)

    def client(self, **kwargs: Any) -> Any:
        import stripe

        kwargs.setdefault("max_network_retries", 0)
        return stripe.StripeClient(
            self.secret_key, base_addresses={"api": self.url, "files": self.url}, **kwargs
        )


@dataclass
class ReceivedWebhook:
    body: bytes
    headers: dict[str, str]
    time: float

    @property
    def signature(self) -> str:
        return self.headers.get("stripe-signature", "")

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A loopback endpoint. `statuses` is consumed one per request, then `default_status` applies."""

    url: str = ""
    received: list[ReceivedWebhook] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def record(self, body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            self.received.append(ReceivedWebhook(body, headers, time.time()))

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json() for r in self.received]

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.received) >= count:
                return True
            time.sleep(0.01)
        return False


def start_receiver() -> tuple[WebhookReceiver, ThreadingHTTPServer]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.record(body, {k.lower(): v for k, v in self.headers.items()})
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.next_status()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the emulator hung up on a slow answer (timeout tests): expected, not news

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
    return receiver, server


@dataclass
class RunningEmulator:
    emulator: Emulator
    server: EmulatorServer
    url: str


@pytest.fixture(scope="session")
def stripe_emulator_server() -> Iterator[RunningEmulator]:
    emu = Emulator(seed=1234, api_keys=set(API_KEYS))
    server = make_server(emu, "127.0.0.1", 0)
    serve_in_thread(server)
    yield RunningEmulator(emu, server, emu.base_url)
    server.shutdown()
    server.server_close()
    emu.close()


@pytest.fixture
def stripe_emulator(stripe_emulator_server: RunningEmulator) -> Iterator[EmulatorHandle]:
    """Reset before the test, and after it: no webhook left queued, in retry or on the wire once
    the test is over, so none reaches a (session-long) receiver while a later test runs."""
    handle = EmulatorHandle(stripe_emulator_server.url, stripe_emulator_server.emulator)
    handle.reset()
    yield handle
    handle.reset()
    if not stripe_emulator_server.emulator.webhooks.settle():
        raise AssertionError("a webhook delivery was still on the wire 10 s after the test")


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
