"""Seed the embedded default: a staff user with a fresh password (printed) and the demo catalog."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from billing.models import Plan
from orders.models import Product

STAFF_USERNAME = "admin"
# The demo catalog: prices in minor units. Seeding again updates these rows, never duplicates.
DEMO_PRODUCTS = [
    {
        "sku": "POSTER-ENGINE",
        "name": "Analytical Engine poster",
        "description": "A2 print of Babbage's design, on heavy matte paper.",
        "unit_amount": 2400,
        "currency": "gbp",
    },
    {
        "sku": "MUG-NOTE-G",
        "name": "Note G mug",
        "description": "Ada Lovelace's Bernoulli program, around a 330 ml mug.",
        "unit_amount": 1250,
        "currency": "gbp",
    },
    {
        "sku": "CARDS-PUNCHED",
        "name": "Punched-card notebook",
        "description": "A5, 96 dotted pages, a cover of Jacquard cards.",
        "unit_amount": 899,
        "currency": "gbp",
    },
    {
        "sku": "KIT-DIFFERENCE",
        "name": "Difference Engine model kit",
        "description": "A working brass-effect model of a column of the Difference Engine.",
        "unit_amount": 8999,
        "currency": "gbp",
    },
    {
        "sku": "TENUGUI-ABACUS",
        "name": "Soroban tenugui (priced in yen)",
        "description": "Cotton hand towel printed with a soroban. A cart holds one currency.",
        "unit_amount": 1800,
        "currency": "jpy",
    },
]

# The demo subscription plan; its Stripe Price is created on the first subscription.
DEMO_PLAN = {
    "slug": "reading-room",
    "name": "Reading Room membership",
    "description": "A new facsimile from the Babbage papers every month, and the members' notes.",
    "amount": 900,
    "currency": "gbp",
    "interval": "month",
}


class Command(BaseCommand):
    help = "Create the demo staff user (printing a new password) and the demo catalog."

    def handle(self, *args: Any, **options: Any) -> None:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=STAFF_USERNAME, defaults={"email": "admin@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"Staff login       username={STAFF_USERNAME} password={password}")
        self.stdout.write(
            "Second factor     an authenticator app, set up at the first login "
            f"(lost it? python manage.py otp_reset {STAFF_USERNAME})"
        )
        for product in DEMO_PRODUCTS:
            Product.objects.update_or_create(sku=product["sku"], defaults={**product, "active": True})
        self.stdout.write(f"Demo catalog      {len(DEMO_PRODUCTS)} products")
        Plan.objects.update_or_create(slug=DEMO_PLAN["slug"], defaults={**DEMO_PLAN, "active": True})
        self.stdout.write(f"Demo plan         {DEMO_PLAN['name']} at /billing/plans/{DEMO_PLAN['slug']}/")
