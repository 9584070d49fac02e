"""Wake-ups: one broker message per burst of work, not one per item.

A drain task works through everything waiting of its kind (pending events, unsent
confirmations). Whoever adds work calls `wake`: it adds the kind's `DrainWakeup` row and
publishes the drain only when it added the row, so while a drain waits in the queue further
work costs one small insert and no message. The drain calls `wakeup_release` before it looks
for work: anything added after that is either seen by it or adds the row again and queues the
next drain, so nothing is left waiting unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from core.db import insert_or_skip
from core.models import DrainWakeup

logger = logging.getLogger(__name__)


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


def wakeup_release(*, name: str, older_than: timedelta | None = None) -> None:
    """Remove the row: the drain, before it looks; or a beat job, for a row `older_than` its
    sweep interval, whose drain message was lost (so that new work queues a drain again)."""
    rows = DrainWakeup.objects.filter(name=name)
    if older_than is not None:
        rows = rows.filter(created_at__lt=timezone.now() - older_than)
    rows.delete()


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
