"""The customer side of the API budget test, in a process of its own: checkout's PaymentIntent
creates, through the product's gateway, one every `interval` seconds until the file named by
argv[1] exists. Prints one JSON line: how many were created and the errors, by class.

Run as `python -m tests.payments.budget_customer <stop file> <run id> <interval>`."""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

from payments import stripe_gateway  # noqa: E402

if __name__ == "__main__":
    stop, run, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
    created, errors, waited_over = 0, [], 0
    print(json.dumps({"started": True}), flush=True)
    while not os.path.exists(stop):
        started = time.monotonic()
        try:
            stripe_gateway.payment_intent_create(
                params={"amount": 1000, "currency": "gbp", "payment_method_types": ["card"]},
                idempotency_key=f"budget-test:{run}:{created + len(errors)}",
            )
            created += 1
        except stripe_gateway.StripeGatewayError as error:
            errors.append(type(error).__name__)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    print(json.dumps({"created": created, "errors": errors}), flush=True)
