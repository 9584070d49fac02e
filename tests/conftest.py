"""Project-wide fixtures. The emulator fixtures come from the stripe_emulator.testing plugin."""

from collections.abc import Iterator
from typing import Any

import pytest


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


pytest_plugins = ["stripe_emulator.testing"]


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
