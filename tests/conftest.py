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
