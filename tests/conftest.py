"""Project-wide fixtures. The emulator fixtures come from the stripe_emulator.testing plugin.

Besides the emulator: the drain's broker messages (`queued`), processing stored events as the
worker would (`process`), alerts by email (`alert_emails`), and paying an order in the emulator
(`pay`), shared by the payments, reconciliation and disputes tests."""

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.operations import DatabaseOperations
from django.test import TestCase

from core.keys import idempotency_key
from orders.models import Order
from payments import stripe_gateway
from payments.models import StripeEvent
from payments.services.events import wakeup
from payments.services.events.process import stripe_event_process
from tests.factories import stored_event
from tests.fault_server import FaultServer

_truncate = DatabaseOperations.sql_flush


def _sql_flush_by_delete(
    self: DatabaseOperations,
    style: Any,
    tables: Any,
    *,
    reset_sequences: bool = False,
    allow_cascade: bool = False,
) -> list[str]:
    """How a transactional test's database is emptied after it: DELETE of every table in one
    transaction (Django makes foreign keys DEFERRABLE INITIALLY DEFERRED, so the order does not
    matter and they are checked once, empty, at commit) instead of one TRUNCATE. A test leaves a
    few rows in each table; TRUNCATE gives every one of the 52 tables new files, about 0.4 s per
    test here, DELETE about 0.05 s. Resetting sequences still goes through TRUNCATE."""
    if reset_sequences or not tables:
        return _truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    return ["SET CONSTRAINTS ALL DEFERRED", *(f"DELETE FROM {self.quote_name(table)}" for table in tables)]


DatabaseOperations.sql_flush = _sql_flush_by_delete  # type: ignore[method-assign]

# mutmut (scripts/mutation) sets MUTANT_UNDER_TEST before it first imports pytest, and runs each
# mutant's tests in a process forked from its own, each on a copy of one migrated test database.
UNDER_MUTMUT = "MUTANT_UNDER_TEST" in os.environ
MUTATION_DATABASES = int(os.environ.get("MUTATION_CHILDREN", "2"))


# Tests that share a Redis database or a broker with another such test (the real-worker and
# production-process tests, the Stripe budget's and the card-testing guard's Redis counters).
SHARING = ("worker", "slow")
SHARING_MODULES = {"tests/payments/test_stripe_budget.py", "tests/payments/test_card_testing.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test command runs the suite in two pytest-xdist processes (`--dist loadgroup`), each
    on its own test database; the tests that share Redis or a broker, and start processes of
    their own, are one group, run one after another in one of them.

    Under mutmut the transactional tests are left out: each empties its database afterwards,
    which costs more than most mutants' whole run."""
    for item in items:
        shares = any(item.get_closest_marker(name) for name in SHARING)
        if shares or item.nodeid.split("::")[0] in SHARING_MODULES:
            item.add_marker(pytest.mark.xdist_group("processes"))
    if not UNDER_MUTMUT:
        return
    kept, left = [], []
    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = "transactional_db" in getattr(item, "fixturenames", ()) or (
            marker is not None and marker.kwargs.get("transaction")
        )
        (left if transactional else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


if UNDER_MUTMUT:
    _held: list[Any] = []  # the lock file of the database this run holds

    def _database_slot(name: str) -> int:
        """The first of scripts/mutation's copies of the database that no other run holds (an
        exclusive lock on its file, let go when this run ends); the first if all are held."""
        for slot in range(MUTATION_DATABASES):
            held = open(f"{tempfile.gettempdir()}/{name}-{slot}.lock", "w")  # noqa: SIM115
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.close()
                continue
            _held.append(held)
            return slot
        return 0

    @pytest.fixture(scope="session")
    def django_db_setup(django_test_environment: None, django_db_blocker: Any) -> None:
        """Under mutmut: a copy of the test database scripts/mutation migrated before the run,
        used as it is, instead of a `migrate` check in every forked run (most of a mutant's
        time); one copy per run going on at once, since two runs in one database wait for each
        other's uncommitted rows with the same unique value (the catalog's SKUs, a fixed
        `sub_…` id)."""
        for connection in connections.all():
            name = connection.settings_dict["TEST"]["NAME"]
            name = f"{name}_{_database_slot(name)}"
            connection.settings_dict["NAME"] = settings.DATABASES[connection.alias]["NAME"] = name

    def pytest_sessionfinish(session: pytest.Session) -> None:
        """Close the connections before mutmut forks the next runs from this process (a socket
        shared by two processes would mix their queries), and let the database go."""
        connections.close_all()
        while _held:
            _held.pop().close()


@pytest.fixture
def gateway_at(settings: Any) -> Iterator[Any]:
    """Point the product's Stripe gateway at a base address (the emulator, or a fault server)."""

    def point(url: str) -> None:
        settings.STRIPE_API_BASE = url

    yield point


@pytest.fixture
def emulator(stripe_emulator: Any, settings: Any) -> Any:
    """The Stripe emulator, reset, with the product's gateway pointed at it."""
    settings.STRIPE_API_BASE = stripe_emulator.url
    settings.STRIPE_SECRET_KEY = stripe_emulator.secret_key
    return stripe_emulator


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per drain message that would go to the broker. The wake-up row is the real
    one: while it is there (a drain waiting in the queue), further wake-ups publish nothing."""
    seen: list[None] = []
    monkeypatch.setattr(wakeup, "stripe_events_drain_publish", lambda: seen.append(None))
    return seen


@pytest.fixture
def process(queued: list[None]) -> Callable[..., StripeEvent]:
    """Store an event payload (unless it is already stored) and process it as the worker does,
    running on-commit callbacks (alerts) as a real commit would."""

    def run(payload: dict[str, Any] | StripeEvent) -> StripeEvent:
        row = payload if isinstance(payload, StripeEvent) else stored_event(payload)
        with TestCase.captureOnCommitCallbacks(execute=True):
            stripe_event_process(event_pk=row.pk)
        row.refresh_from_db()
        return row

    return run


@pytest.fixture
def alert_emails(settings: Any) -> None:
    """Alerts go by email to one address (and to no chat)."""
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.ALERT_CHAT_WEBHOOK_URL = ""


@pytest.fixture
def pay(emulator: Any) -> Callable[..., str]:
    """Pay an order through the emulator as the checkout would, with no webhook endpoint (so every
    event is "missed"); returns the PaymentIntent's id, linked to the order."""

    def run(order: Order, card: str = "pm_card_visa") -> str:
        params = {
            "amount": order.amount,
            "currency": order.currency,
            "payment_method": card,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": {"order_id": str(order.pk), "order_number": order.number},
        }
        client = emulator.client()
        try:
            pi = client.v1.payment_intents.create(
                params=params,
                options={"idempotency_key": idempotency_key("order", order.pk, "payment-intent")},
            )
            pi_id = pi.id
        except Exception as error:  # a declined card: the PaymentIntent is in the error
            pi_id = error.error.payment_intent.id  # type: ignore[attr-defined]
        Order.objects.filter(pk=order.pk).update(payment_intent_id=pi_id)
        return pi_id

    return run


@pytest.fixture
def fault_server(settings: Any) -> Iterator[FaultServer]:
    server = FaultServer()
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    settings.STRIPE_RATE_LIMIT_RETRIES = 3
    settings.STRIPE_READ_TIMEOUT = 0.5
    settings.STRIPE_CONNECT_TIMEOUT = 0.5
    yield server
    server.close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Our own backoff sleeps, recorded instead of slept. (The SDK's own sleeps are real.)"""
    recorded: list[float] = []
    monkeypatch.setattr(stripe_gateway, "_sleep", recorded.append)
    return recorded


# The emulator's fixtures, and the real-worker ones of the end-to-end fault tests (start_worker).
pytest_plugins = ["stripe_emulator.testing", "tests.e2e_support"]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: login-lockout alerts and card-testing counters live
    there, and must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def otp_login(client: Any, user: Any) -> Any:
    """Log `user` in on a test client with a confirmed authenticator device, verified in this
    session, as if they had typed their password and a code (the admin and the staff API's
    session auth refuse staff sessions without that). Returns the device."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture
def admin_client(client: Any, admin_user: Any) -> Any:
    """pytest-django's admin_client, logged in with a verified second factor (see otp_login)."""
    otp_login(client, admin_user)
    return client


@pytest.fixture
def staff_login(client: Any) -> Any:
    """`staff_login(user)` logs a staff user in on `client` with a verified second factor."""

    def login(user: Any) -> Any:
        otp_login(client, user)
        return client

    return login
