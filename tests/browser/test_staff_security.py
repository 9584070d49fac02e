"""A staff member's first login in Chromium: password, then the second-factor enrolment with its
QR code, recovery codes, and the admin, all under the pages' Content-Security-Policy."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct horse battery staple"


def test_first_staff_login_enrols_the_second_factor_and_opens_the_admin(page: Any, site: Any) -> None:
    User.objects.create_user(username="finance", password=PASSWORD, is_staff=True, is_superuser=True)
    # given the admin's login page
    page.goto(site.url + "/admin/payments/stripeevent/")
    page.get_by_label("Username").fill("finance")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # then the enrolment page, with a QR code drawn in the page and the key to type by hand
    page.wait_for_url(re.compile(r"/staff/security/enrol/"))
    assert page.locator("#otp-qr svg").is_visible()
    device = TOTPDevice.objects.get(user__username="finance", confirmed=False)
    # when the code from the app is typed
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_role("textbox", name="Code").fill(f"{code:06d}")
    page.get_by_role("button", name="Confirm").click()
    # then ten recovery codes, once, and on to the page first asked for
    page.locator("#recovery-codes").wait_for()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(re.compile(r"/admin/payments/stripeevent/$"))
    assert page.get_by_role("heading", name=re.compile("Select Stripe event", re.I)).is_visible()
    # and the admin's own pages (its scripts and styles) run under the policy too
    page.goto(site.url + "/admin/")
    assert page.get_by_text("Site administration").is_visible()
