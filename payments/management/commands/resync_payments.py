"""Give orders their PaymentIntent and Charge mirrors from Stripe: `resync_payments`.

For each order with a PaymentIntent, fetch it and all its charge attempts and apply them through
the same forward-only services as a webhook (payments.services.objects.payment_intent_resync).
Safe to run again, and while the shop takes payments: a snapshot never moves a mirror back."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from orders.models import Order, order_number
from payments.models import PaymentIntent
from payments.services.objects import payment_intent_resync
from payments.stripe_gateway import StripeGatewayError

CHUNK = 200


class Command(BaseCommand):
    help = "Fetch every order's PaymentIntent and charges from Stripe and keep them as mirrors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--missing",
            action="store_true",
            help="only orders whose PaymentIntent has no mirror yet",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        orders = Order.objects.exclude(payment_intent_id=None).exclude(payment_intent_id="")
        if options["missing"]:
            orders = orders.exclude(
                payment_intent_id__in=PaymentIntent.objects.values("stripe_id"),
            )
        orders = orders.order_by("pk")
        total = orders.count()
        synced = charges = 0
        failed: list[str] = []
        bar = tqdm(
            total=total,
            unit="order",
            file=self.stderr,
            disable=options.get("verbosity", 1) == 0,
            desc="Re-syncing payments",
        )
        with bar:
            last = 0
            while True:
                # Keyset pages, not a cursor held open across Stripe calls and commits.
                page = list(orders.filter(pk__gt=last).values_list("pk", "payment_intent_id")[:CHUNK])
                if not page:
                    break
                for pk, payment_intent_id in page:
                    try:
                        result = payment_intent_resync(payment_intent_id=str(payment_intent_id))
                    except StripeGatewayError as error:
                        # One order Stripe cannot answer for does not stop the others.
                        failed.append(f"{order_number(pk)} {payment_intent_id} ({type(error).__name__})")
                    else:
                        synced += 1
                        charges += result.charges
                    bar.update(1)
                last = page[-1][0]
        self.stdout.write(
            f"orders {total}, payment intents synced {synced}, charges {charges}, failed {len(failed)}"
        )
        for line in failed:
            self.stderr.write(f"not synced: {line}")
