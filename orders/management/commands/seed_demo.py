"""Seed the embedded default: a staff user with a fresh password (printed) and the demo catalog."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

STAFF_USERNAME = "admin"


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
