"""Wake-ups: one broker message per burst of work, not one per item.

A drain task works through everything waiting of its kind (pending events, unsent
confirmations). Whoever adds work calls `wake`: it adds the kind's `DrainWakeup` row and
publishes the drain only when it added the row, so while a drain waits in the queue further
work costs one small insert and no message. The drain calls `wakeup_release` before it looks
for work: anything added after that is either seen by it or adds the row again and queues the
next drain, so nothing is left waiting unseen.

A process killed between adding the row and publishing (a worker SIGKILLed in an `on_commit`)
leaves a row with no message behind it, and every later caller counts on that drain. Each kind
registers its waker at start-up (`wakeup_register`, in its app's `ready`), and the beat job
`wakeups_sweep` re-wakes any row older than `WAKEUP_LOST_AFTER`: a drain that has not started
by then has lost its message, or waits behind a backlog (then the second drain is harmless: it
finds the work taken or shares it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from core.db import insert_or_skip
from core.models import DrainWakeup

logger = logging.getLogger(__name__)

WAKEUP_LOST_AFTER = timedelta(minutes=2)

_wakers: dict[str, Callable[[], object]] = {}


def wakeup_register(*, name: str, waker: Callable[[], object]) -> None:
    """Say how to wake the drain called `name` (the function the kind's producers call)."""
    _wakers[name] = waker


def wakeup_claim(*, name: str) -> bool:
    """Add the wake-up row; False when it is there already (a drain is queued). One statement
    that takes no lock on an existing row, so concurrent callers do not wait for each other."""
    added = insert_or_skip(
        model=DrainWakeup,
        values={"name": name, "created_at": timezone.now()},
        conflict=["name"],
        returning="name",
    )
    return added is not None


def wakeup_release(*, name: str) -> None:
    """Remove the row: the drain, before it looks (so that new work queues a drain again)."""
    DrainWakeup.objects.filter(name=name).delete()


def wake(*, name: str, publish: Callable[[], None]) -> bool:
    """Make sure a drain of this kind will run. A broker that is down loses nothing (the work is
    in the database and a beat job sweeps it), so this logs and carries on; it removes the row
    again so that the next caller tries the broker rather than count on a drain never queued."""
    if not wakeup_claim(name=name):
        return True
    try:
        publish()
    except Exception as error:
        logger.warning(
            "%s drain not queued (%s); the beat job will pick its work up", name, type(error).__name__
        )
        wakeup_release(name=name)
        return False
    return True


def wakeups_sweep(*, older_than: timedelta = WAKEUP_LOST_AFTER) -> list[str]:
    """Re-wake each registered drain whose wake-up row is older than `older_than`; returns their
    names. The row goes by a conditional delete, so a drain that started meanwhile (and removed
    it) is not doubled by this run."""
    cutoff = timezone.now() - older_than
    woken = []
    for name in DrainWakeup.objects.filter(created_at__lt=cutoff).values_list("name", flat=True):
        waker = _wakers.get(name)
        if waker is None:
            logger.warning("wake-up %s has no registered waker; left in place", name)
            continue
        if DrainWakeup.objects.filter(name=name, created_at__lt=cutoff).delete()[0]:
            waker()
            woken.append(name)
    if woken:
        logger.warning("re-woke drains whose message was lost: %s", ", ".join(woken))
    return woken
