"""Login throttling (django-axes): repeated failures for one username or from one address are
refused for a while with a clear message, staff are alerted once with identifiers only, an
administrator can unlock, and every staff login, good or bad, is recorded."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def finance(db: Any) -> User:
    return User.objects.create_user(
        username="finance", password=PASSWORD, is_staff=True, email="fin@example.com"
    )


def attempt(client: Client, username: str, password: str, address: str = "203.0.113.7") -> Any:
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_username_even_for_the_right_one(
    client: Client, finance: User, settings: Any
) -> None:
    settings.ALERT_EMAILS = ["ops@example.com"]
    # given five wrong passwords
    for _ in range(5):
        assert attempt(client, "finance", "wrong").status_code in (200, 429)
    # when the right password comes next
    response = attempt(client, "finance", PASSWORD)
    # then it is refused, with a message that says why and for how long
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and "15 minutes" in page
    assert not logged_in(client)
    # and staff were alerted once, with the username and the address and nothing else
    assert len(mail.outbox) == 1
    alert = mail.outbox[0].subject + mail.outbox[0].body
    assert "finance" in alert and "203.0.113.7" in alert
    assert "wrong" not in alert and PASSWORD not in alert and "fin@example.com" not in alert


def test_the_fourth_failure_still_lets_the_right_password_in(client: Client, finance: User) -> None:
    for _ in range(4):
        attempt(client, "finance", "wrong")
    response = attempt(client, "finance", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_one_username_from_many_addresses_is_locked(client: Client, finance: User) -> None:
    for n in range(5):
        attempt(client, "finance", "wrong", address=f"198.51.100.{n + 1}")
    assert attempt(client, "finance", PASSWORD, address="192.0.2.50").status_code == 429


def test_one_address_trying_many_usernames_is_locked(client: Client, finance: User) -> None:
    for n in range(5):
        attempt(client, f"guess{n}", "wrong")
    response = attempt(client, "finance", PASSWORD)
    assert response.status_code == 429
    # the same account from another address is not affected
    assert attempt(Client(), "finance", PASSWORD, address="192.0.2.99").status_code == 302


def test_refused_attempts_during_a_lockout_send_no_more_alerts(
    client: Client, finance: User, settings: Any
) -> None:
    settings.ALERT_EMAILS = ["ops@example.com"]
    for _ in range(9):
        attempt(client, "finance", "wrong")
    assert len(mail.outbox) == 1


def test_the_lockout_ends_after_the_cool_off(client: Client, finance: User) -> None:
    for _ in range(5):
        attempt(client, "finance", "wrong")
    assert attempt(client, "finance", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert attempt(client, "finance", PASSWORD).status_code == 302


def test_axes_reset_username_unlocks_the_account(client: Client, finance: User) -> None:
    for n in range(5):
        attempt(client, "finance", "wrong", address=f"198.51.100.{n + 1}")
    assert attempt(client, "finance", PASSWORD).status_code == 429
    call_command("axes_reset_username", "finance", stdout=StringIO())
    assert attempt(client, "finance", PASSWORD).status_code == 302 and logged_in(client)


def test_successful_and_failed_staff_logins_are_recorded(client: Client, finance: User) -> None:
    attempt(client, "finance", "wrong", address="203.0.113.8")
    attempt(client, "finance", PASSWORD, address="203.0.113.9")
    failure = AccessFailureLog.objects.get()
    assert (failure.username, failure.ip_address) == ("finance", "203.0.113.8")
    success = AccessLog.objects.get()
    assert (success.username, success.ip_address) == ("finance", "203.0.113.9")
    # and no password is kept with either
    assert "wrong" not in str(AccessFailureLog.objects.values()) + str(AccessAttempt.objects.values())
    assert PASSWORD not in str(AccessLog.objects.values())


def test_the_address_behind_our_own_proxy_is_the_client_s(
    client: Client, finance: User, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    client.post(
        LOGIN,
        {"username": "finance", "password": "wrong"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.20",
    )
    assert AccessFailureLog.objects.get().ip_address == "203.0.113.20"


def test_an_address_cycling_through_usernames_is_one_alert(
    client: Client, finance: User, settings: Any
) -> None:
    settings.ALERT_EMAILS = ["ops@example.com"]
    for n in range(12):
        attempt(client, f"guess{n}", "wrong")
    assert len(mail.outbox) == 1
    # while a lockout of the same username from elsewhere, later, is a new one
    for n in range(6):
        attempt(Client(), "finance", "wrong", address=f"198.51.100.{n + 1}")
    assert len(mail.outbox) == 2 and "finance" in mail.outbox[1].subject + mail.outbox[1].body
