"""The sweep of lost drain wake-ups (core.wakeups): a row whose drain message never went out is
woken again, once, and a drain that started meanwhile is not doubled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core import wakeups
from core.models import DrainWakeup
from core.wakeups import WAKEUP_LOST_AFTER, wake, wakeup_claim, wakeup_release, wakeups_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(wakeups, "_wakers", {})
    wakeups.wakeup_register(name="kind", waker=lambda: wake(name="kind", publish=lambda: sent.append("kind")))
    return sent


def age(name: str, by: timedelta) -> None:
    DrainWakeup.objects.filter(name=name).update(created_at=timezone.now() - by)


def test_a_row_older_than_the_limit_is_woken_again_and_renewed(published: list[str]) -> None:
    wakeup_claim(name="kind")  # its publisher was killed before it published
    age("kind", WAKEUP_LOST_AFTER + timedelta(seconds=1))
    assert wakeups_sweep() == ["kind"]
    assert published == ["kind"]
    row = DrainWakeup.objects.get(name="kind")
    assert timezone.now() - row.created_at < timedelta(seconds=5)  # the new drain's row
    assert wakeups_sweep() == []  # and it is not woken twice


def test_a_fresh_row_and_a_started_drain_are_left_alone(published: list[str]) -> None:
    wakeup_claim(name="kind")
    age("kind", WAKEUP_LOST_AFTER - timedelta(seconds=5))
    assert wakeups_sweep() == []
    wakeup_release(name="kind")  # the drain started
    assert wakeups_sweep() == [] and published == []


def test_a_row_nobody_registered_stays_for_its_owner(published: list[str]) -> None:
    wakeup_claim(name="unknown")
    age("unknown", WAKEUP_LOST_AFTER * 2)
    assert wakeups_sweep() == []
    assert DrainWakeup.objects.filter(name="unknown").exists()


def test_the_apps_register_their_drains() -> None:
    assert {"stripe-events", "order-confirmations"} <= set(wakeups._wakers)
