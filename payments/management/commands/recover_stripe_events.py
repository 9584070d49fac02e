"""Recover the Stripe events of a window that never reached us: `recover_stripe_events --since 3d`."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from payments.services.events import RecoverySummary, stripe_event_recover

UNITS = {"m": "minutes", "h": "hours", "d": "days"}
WINDOW_RE = re.compile(r"^(\d+)([mhd])$")
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
        since = timezone.now() - parse_window(options["since"])
        progress = sys.stderr if options.get("verbosity", 1) > 0 else None

        def show(summary: RecoverySummary) -> None:
            if progress is not None and (summary.checked % 25 == 0 or summary.checked < 25):
                bar = "#" * min(40, summary.checked // 25)
                progress.write(f"\r[{bar:<40}] checked {summary.checked}, recovered {len(summary.recovered)}")
                progress.flush()

        summary = stripe_event_recover(since=since, progress=show)
        if progress is not None:
            progress.write("\n")
        self.stdout.write(str(summary))
