"""Staff sessions end after 30 minutes idle and 12 hours in all; money actions want a password or
a code from the last 10 minutes (`core.security.require_recent_auth`)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django_otp.oath import totp

from core.security import LOGIN_AT_KEY, RECENT_AUTH_KEY, SEEN_AT_KEY, require_recent_auth
from tests.conftest import otp_login
from tests.core import recent_auth_urls

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
CONFIRM = "/staff/security/confirm/"


@pytest.fixture
def staff(db: Any) -> User:
    return User.objects.create_user(username="finance", password=PASSWORD, is_staff=True, is_superuser=True)


def age(client: Client, **seconds_ago: int) -> None:
    """Move the session's clocks back: login=…, seen=…, auth=… seconds ago."""
    keys = {"login": LOGIN_AT_KEY, "seen": SEEN_AT_KEY, "auth": RECENT_AUTH_KEY}
    session = client.session
    for name, ago in seconds_ago.items():
        session[keys[name]] = int(time.time()) - ago
    session.save()


def test_a_staff_session_ends_after_30_minutes_without_a_request(client: Client, staff: User) -> None:
    otp_login(client, staff)
    assert client.get("/admin/").status_code == 200
    age(client, seen=31 * 60)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[0][0].startswith("/admin/login/")
    assert "30 minutes without activity" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_activity_keeps_the_session_alive(client: Client, staff: User) -> None:
    otp_login(client, staff)
    age(client, seen=29 * 60)
    assert client.get("/admin/").status_code == 200
    assert time.time() - client.session[SEEN_AT_KEY] < 5
    assert client.get("/admin/").status_code == 200


def test_a_staff_session_ends_12_hours_after_login_however_active(client: Client, staff: User) -> None:
    otp_login(client, staff)
    age(client, login=12 * 3600 + 1, seen=10)
    response = client.get("/admin/", follow=True)
    assert "12 hours after you logged in" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_staff_api_refuses_an_idle_session_too(client: Client, staff: User) -> None:
    otp_login(client, staff)
    age(client, seen=31 * 60)
    assert client.get("/api/schema/").status_code == 401


def test_a_customer_s_session_has_no_such_limit(client: Client) -> None:
    client.get("/")
    session = client.session
    session["cart"] = {"1": 1}
    session[SEEN_AT_KEY] = int(time.time()) - 3600
    session.save()
    client.get("/cart/")
    assert client.session.get("cart") == {"1": 1}


@pytest.mark.urls("tests.core.recent_auth_urls")
def test_a_money_action_runs_at_once_just_after_login(client: Client, staff: User) -> None:
    recent_auth_urls.calls.clear()
    otp_login(client, staff)
    response = client.post("/test/money/")
    assert response.status_code == 200 and recent_auth_urls.calls == ["POST"]


@pytest.mark.urls("tests.core.recent_auth_urls")
def test_a_money_action_asks_for_the_password_after_10_minutes_and_then_runs(
    client: Client, staff: User
) -> None:
    recent_auth_urls.calls.clear()
    otp_login(client, staff)
    age(client, auth=11 * 60)
    # when the action is tried: nothing runs, the staff member is asked to confirm
    response = client.post("/test/money/")
    assert response.status_code == 302
    assert response["Location"] == CONFIRM + "?next=%2Ftest%2Fmoney%2F"
    assert recent_auth_urls.calls == []
    # a wrong password changes nothing
    wrong = client.post(CONFIRM, {"password": "nope", "next": "/test/money/"})
    assert wrong.status_code == 400 and "not your password" in wrong.content.decode()
    assert client.post("/test/money/").status_code == 302 and recent_auth_urls.calls == []
    # the right one sends them back, and the action runs
    ok = client.post(CONFIRM, {"password": PASSWORD, "next": "/test/money/"})
    assert ok.status_code == 302 and ok["Location"] == "/test/money/"
    assert client.post("/test/money/").status_code == 200 and recent_auth_urls.calls == ["POST"]


@pytest.mark.urls("tests.core.recent_auth_urls")
def test_a_fresh_code_confirms_too(client: Client, staff: User) -> None:
    recent_auth_urls.calls.clear()
    device = otp_login(client, staff)
    age(client, auth=11 * 60)
    now = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    assert client.post(CONFIRM, {"code": f"{now:06d}", "next": "/test/money/"}).status_code == 302
    assert client.get("/test/money/").status_code == 200


def test_the_confirmation_page_never_sends_staff_to_another_site(client: Client, staff: User) -> None:
    otp_login(client, staff)
    ok = client.post(CONFIRM, {"password": PASSWORD, "next": "https://evil.example/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/"


def test_require_recent_auth_works_on_an_admin_action(staff: User) -> None:
    # given an admin action (modeladmin, request, queryset) behind the decorator
    ran: list[Any] = []

    @require_recent_auth
    def refund(modeladmin: Any, request: Any, queryset: Any) -> None:
        ran.append(queryset)

    request = RequestFactory().post("/admin/orders/order/")
    request.user = staff
    request.session = {RECENT_AUTH_KEY: int(time.time()) - 11 * 60}  # type: ignore[assignment]
    request._messages = type("M", (), {"add": lambda *a, **k: None})()  # type: ignore[attr-defined]
    # when it is run with an old authentication: a redirect to confirm, nothing refunded
    response = refund(None, request, ["order"])
    assert response.status_code == 302 and response["Location"].startswith(CONFIRM) and ran == []
    # and with a fresh one it runs
    request.session[RECENT_AUTH_KEY] = int(time.time())
    assert refund(None, request, ["order"]) is None and ran == [["order"]]


@pytest.mark.urls("tests.core.recent_auth_urls")
def test_guessing_the_password_on_the_confirmation_page_locks_the_account(
    client: Client, staff: User
) -> None:
    otp_login(client, staff)
    age(client, auth=11 * 60)
    for _ in range(5):
        client.post(CONFIRM, {"password": "guess", "next": "/test/money/"})
    locked = client.post(CONFIRM, {"password": PASSWORD, "next": "/test/money/"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert client.post("/test/money/").status_code == 302
