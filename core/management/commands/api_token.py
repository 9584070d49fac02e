"""`python manage.py api_token <username>`: print a finance-API token for a Finance staff user.

Tokens are for tooling and skip the second factor that staff sessions need, so only the role
that may move money can have one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token

from core.roles import user_is_finance


class Command(BaseCommand):
    help = "Print the finance API token of a Finance staff user, creating it if needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not user.is_staff or not user_is_finance(user):
            raise CommandError("Tokens are only for active staff users in the Finance group.")
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
