"""The staff second factor (django-otp TOTP): enrolment with a QR code and recovery codes,
verification, nothing in the admin or the staff API's session auth without it, tokens only for
Finance, and the reset of a lost device."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from payments.models import StripeEvent
from tests.conftest import otp_login

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
ENROL = "/staff/security/enrol/"
VERIFY = "/staff/security/verify/"


@pytest.fixture
def staff(db: Any) -> User:
    return User.objects.create_user(username="support", password=PASSWORD, is_staff=True, is_superuser=True)


def password_login(client: Client, user: User) -> None:
    response = client.post(
        "/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302


def let_try_again(device: TOTPDevice) -> None:
    """django-otp refuses any code for 1, 2, 4… seconds after a wrong one; skip that wait."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_a_password_alone_opens_no_admin_page_and_leads_to_enrolment(client: Client, staff: User) -> None:
    password_login(client, staff)
    for path in ("/admin/", "/admin/payments/stripeevent/", "/admin/auth/user/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(ENROL + "?next=")


def test_enrolment_shows_a_qr_code_then_confirms_with_a_code_and_gives_recovery_codes(
    client: Client, staff: User
) -> None:
    password_login(client, staff)
    # given the enrolment page: a QR code drawn here, as SVG, and the key to type in by hand
    page = client.get(ENROL + "?next=/admin/").content.decode()
    assert "<svg" in page and "otpauth" not in page.split("<svg", 1)[0]
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert re.search(r'id="otp-key">[A-Z2-7 ]{20,}<', page)
    assert client.get(ENROL).status_code == 200 and TOTPDevice.objects.filter(user=staff).count() == 1
    # when a wrong code is typed: refused, still not verified
    wrong = client.post(
        ENROL, {"code": "000000" if code(device) != "000000" else "111111", "next": "/admin/"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302
    let_try_again(device)
    # when the app's code is typed
    done = client.post(ENROL, {"code": code(device), "next": "/admin/"})
    # then the device is confirmed, ten recovery codes are shown once, and the admin opens
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)) == set(codes)
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200


def test_an_enrolled_account_must_give_a_code_at_each_login(client: Client, staff: User) -> None:
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    password_login(client, staff)
    response = client.get("/admin/payments/stripeevent/")
    assert response["Location"] == VERIFY + "?next=%2Fadmin%2Fpayments%2Fstripeevent%2F"
    assert client.post(VERIFY, {"code": "12345", "next": "/admin/"}).status_code == 400
    let_try_again(device)
    ok = client.post(VERIFY, {"code": code(device), "next": "/admin/payments/stripeevent/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/payments/stripeevent/"
    assert client.get("/admin/payments/stripeevent/").status_code == 200


def test_a_recovery_code_lets_staff_in_once(client: Client, staff: User) -> None:
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    from core.services import staff_recovery_codes_renew

    first, *_ = staff_recovery_codes_renew(user=staff)
    password_login(client, staff)
    assert client.post(VERIFY, {"code": first, "next": "/admin/"}).status_code == 302
    assert client.get("/admin/").status_code == 200
    other = Client()
    password_login(other, staff)
    assert other.post(VERIFY, {"code": first, "next": "/admin/"}).status_code == 400


def test_an_admin_action_posted_without_the_second_factor_does_nothing(client: Client, staff: User) -> None:
    event = StripeEvent.objects.create(
        stripe_id="evt_unverified",
        type="payment_intent.succeeded",
        payload={},
        status=StripeEvent.Status.DEAD,
    )
    password_login(client, staff)
    response = client.post(
        "/admin/payments/stripeevent/", {"action": "replay", "_selected_action": [event.pk]}
    )
    assert response.status_code == 302 and response["Location"].startswith(ENROL)
    event.refresh_from_db()
    assert event.status == StripeEvent.Status.DEAD


def test_the_staff_api_refuses_a_session_without_the_second_factor(client: Client, staff: User) -> None:
    password_login(client, staff)
    refused = client.get("/api/schema/")
    assert refused.status_code == 401
    assert "second factor" in refused.content.decode()
    verified = Client()
    otp_login(verified, staff)
    assert verified.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").status_code == 200


def test_customers_pages_need_no_second_factor(client: Client, staff: User) -> None:
    password_login(client, staff)
    assert client.get("/").status_code == 200
    assert client.get("/cart/").status_code == 200


def test_otp_reset_removes_the_device_ends_sessions_and_asks_for_enrolment_again(
    client: Client, staff: User
) -> None:
    # given a verified staff member who lost their phone
    otp_login(client, staff)
    from core.services import staff_recovery_codes_renew

    staff_recovery_codes_renew(user=staff)
    assert client.get("/admin/").status_code == 200
    # when an administrator resets the device
    out = StringIO()
    call_command("otp_reset", "support", stdout=out)
    # then devices and codes are gone, the session has ended, and the next login enrols again
    assert "Removed 2 second-factor device(s)" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert not StaticToken.objects.filter(device__user=staff).exists()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    password_login(client, staff)
    assert client.get("/admin/")["Location"].startswith(ENROL)


def test_guessing_codes_is_slowed_down_even_for_the_right_code(client: Client, staff: User) -> None:
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    password_login(client, staff)
    client.post(VERIFY, {"code": "000000" if code(device) != "000000" else "111111", "next": "/admin/"})
    right_too_soon = client.post(VERIFY, {"code": code(device), "next": "/admin/"})
    assert right_too_soon.status_code == 400
    assert "Too many wrong codes" in right_too_soon.content.decode()
    assert client.get("/admin/").status_code == 302


def test_the_admin_never_shows_another_staff_member_s_key_or_recovery_codes(
    admin_client: Client, staff: User
) -> None:
    from django.urls import reverse

    from core.services import staff_recovery_codes_renew

    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    codes = staff_recovery_codes_renew(user=staff)
    page = admin_client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).content.decode()
    assert page.count("phone") >= 1 and device.key not in page
    listing = admin_client.get(reverse("admin:otp_static_staticdevice_changelist")).content.decode()
    static = admin_client.get(
        reverse("admin:otp_static_staticdevice_change", args=[staff.staticdevice_set.get().pk])
    ).content.decode()
    assert not any(code in listing + static for code in codes)


def test_adding_a_device_to_an_enrolled_account_needs_a_fresh_password_or_code(
    client: Client, staff: User
) -> None:
    import time

    from core.security import RECENT_AUTH_KEY

    otp_login(client, staff)
    session = client.session
    session[RECENT_AUTH_KEY] = int(time.time()) - 11 * 60
    session.save()
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"].startswith("/staff/security/confirm/")
    assert not TOTPDevice.objects.filter(user=staff, confirmed=False).exists()
    client.post("/staff/security/confirm/", {"password": PASSWORD, "next": ENROL})
    assert client.get(ENROL).status_code == 200
