"""Writes for staff security: second-factor devices and recovery codes (django-otp)."""

from __future__ import annotations

import io
from typing import Any

import segno
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def staff_device_pending(*, user: Any) -> TOTPDevice:
    """The user's unconfirmed authenticator device, made once and reused until it is confirmed
    (a reload of the enrolment page shows the same QR code)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def staff_device_qr_svg(*, device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code (segno; no network)."""
    out = io.BytesIO()
    segno.make(device.config_url, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True)
    return out.getvalue().decode()


@transaction.atomic
def staff_device_confirm(*, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm an enrolment with a code from the app. Returns fresh recovery codes (shown once;
    any earlier ones stop working), or None when the code is wrong."""
    if not device.verify_token(token.strip().replace(" ", "")):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # Other devices still pending for this user are abandoned enrolments.
    TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    return staff_recovery_codes_renew(user=device.user)


@transaction.atomic
def staff_recovery_codes_renew(*, user: Any) -> list[str]:
    static, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


@transaction.atomic
def staff_devices_reset(*, user: Any) -> int:
    """Remove every second-factor device and recovery code of a user (a lost phone): the next
    login asks them to enrol again. Returns how many devices were removed."""
    totp = TOTPDevice.objects.filter(user=user)
    static = StaticDevice.objects.filter(user=user)
    count = totp.count() + static.count()
    StaticToken.objects.filter(device__in=static).delete()
    totp.delete()
    static.delete()
    return count
