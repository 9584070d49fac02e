"""`python manage.py reconcile_ledger --since 2d`: the ledger check on demand."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from reconciliation.services.ledger import ledger_check

UNITS = {"m": "minutes", "h": "hours", "d": "days"}
WINDOW_RE = re.compile(r"^(\d+)([mhd])$")
MAX_WINDOW = timedelta(days=400)


def parse_window(value: str) -> timedelta:
    match = WINDOW_RE.match(value.strip())
    if not match:
        raise CommandError(f"--since takes a number and a unit (30m, 12h, 2d), not {value!r}")
    window = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < window <= MAX_WINDOW:
        raise CommandError("--since must be more than 0 and at most 400d")
    return window


class Command(BaseCommand):
    help = "Compare Stripe's payouts, charges, refunds and disputes of a window with ours (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", default="2d", help="how far back: 30m, 12h, 2d (default 2d)")

    def handle(self, *args: Any, **options: Any) -> None:
        window = parse_window(options["since"])
        quiet = options.get("verbosity", 1) == 0
        with tqdm(unit="object", file=self.stderr, disable=quiet) as bar:

            def progress(what: str, checked: int) -> None:
                bar.set_description(what)
                bar.update(checked - bar.n)

            result = ledger_check(window=window, progress=progress)
        self.stdout.write(str(result))
