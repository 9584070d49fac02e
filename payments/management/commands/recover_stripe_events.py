"""Recover the Stripe events of a window that never reached us: `recover_stripe_events --since 3d`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from payments.services.events import RecoverySummary, stripe_event_recover

UNITS = {"m": "minutes", "h": "hours", "d": "days"}
WINDOW_RE = re.compile(r"^(\d+)([mhd])$")
BAR_WIDTH = 40
MAX_WINDOW = timedelta(days=30)  # Stripe lists events of the last 30 days only.


def parse_window(value: str) -> timedelta:
    match = WINDOW_RE.match(value.strip())
    if not match:
        raise CommandError(f"--since takes a number and a unit (30m, 12h, 3d), not {value!r}")
    window = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    if window > MAX_WINDOW:
        raise CommandError("Stripe keeps events for 30 days; --since cannot go further back")
    return window


class Command(BaseCommand):
    help = "Pull GET /v1/events for a window and store (and process) every event we never received."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", default="3d", help="how far back: 30m, 12h, 3d (default 3d)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        since = now - parse_window(options["since"])
        span = max((now - since).total_seconds(), 1.0)
        quiet = options.get("verbosity", 1) == 0

        def show(summary: RecoverySummary, created: int) -> None:
            # Stripe lists newest first: how far back the last event is tells how far we are.
            if quiet:
                return
            done = min(max((now.timestamp() - created) / span, 0.0), 1.0)
            bar = "#" * int(done * BAR_WIDTH)
            self.stderr.write(
                f"\r[{bar:<{BAR_WIDTH}}] {done:4.0%} checked {summary.checked}, "
                f"recovered {len(summary.recovered)}",
                ending="",
            )

        summary = stripe_event_recover(since=since, progress=show)
        if not quiet:
            self.stderr.write("")
        self.stdout.write(str(summary))
