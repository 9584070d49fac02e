"""`python manage.py otp_reset <username>`: remove a staff member's second factor (a lost or
replaced phone). Their sessions end, and their next login asks them to enrol again."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.services import staff_devices_reset


class Command(BaseCommand):
    help = "Remove a user's authenticator device and recovery codes and end their sessions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        removed = staff_devices_reset(user=user)
        ended = 0
        for session in Session.objects.all().iterator():
            if session.get_decoded().get("_auth_user_id") == str(user.pk):
                session.delete()
                ended += 1
        self.stdout.write(
            f"Removed {removed} second-factor device(s) of {user.get_username()} "
            f"and ended {ended} session(s); they enrol again at their next login."
        )
