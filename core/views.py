"""Staff security pages: second-factor enrolment and verification, and the confirmation that a
money action asks for. Thin: read the form, call a service or django-otp, render."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import django_otp
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.security import has_recent_auth, mark_recent_auth, reauth_redirect, safe_next
from core.services import staff_device_confirm, staff_device_pending, staff_device_qr_svg

MESSAGE_BAD_CODE = "That code is not right. Check the time on your phone and try the newest code."
MESSAGE_BAD_CONFIRM = "That is not your password or a current code."
MESSAGE_THROTTLED = "Too many wrong codes in a row. Wait {seconds} seconds, then type the newest code."


def _throttled(user: Any) -> str:
    """django-otp slows down guessing (1, 2, 4… seconds after each wrong code) and refuses even
    the right code meanwhile: say so, rather than "wrong code"."""
    for device in django_otp.devices_for_user(user, confirmed=None):
        allowed, data = device.verify_is_allowed()
        if not allowed and data:
            locked_until = data.get("locked_until")
            if locked_until is not None:
                seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1)
                return MESSAGE_THROTTLED.format(seconds=seconds)
    return ""


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ConfirmForm(forms.Form):
    password = forms.CharField(label="Password", required=False, widget=forms.PasswordInput)
    code = forms.CharField(
        label="or a code from your authenticator app",
        required=False,
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, template, {**admin.site.each_context(request), **context}, status=status)


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: a QR code (and the key to type in), then one code to confirm.
    Shows the recovery codes once, when the device is confirmed."""
    if django_otp.user_has_device(request.user, confirmed=True):
        # Adding another device (or new recovery codes) to an enrolled account: only from a
        # verified session, with a fresh password or code, like a money action.
        if not request.user.is_verified():  # type: ignore[union-attr]
            return HttpResponseRedirect(reverse("security:verify") + "?next=" + safe_next(request))
        if not has_recent_auth(request):
            return reauth_redirect(request)
    device = staff_device_pending(user=request.user)
    form = CodeForm(request.POST or None)
    throttled = _throttled(request.user) if request.method == "POST" else ""
    if throttled:
        form.is_valid()
        form.add_error("code", throttled)
    elif request.method == "POST" and form.is_valid():
        codes = staff_device_confirm(device=device, token=form.cleaned_data["code"])
        if codes is not None:
            django_otp.login(request, device)
            mark_recent_auth(request)
            return _page(
                request,
                "security/recovery_codes.html",
                {"title": "Save your recovery codes", "codes": codes, "next": safe_next(request)},
            )
        form.add_error("code", MESSAGE_BAD_CODE)
    return _page(
        request,
        "security/enrol.html",
        {
            "title": "Set up your second factor",
            "form": form,
            "qr_svg": staff_device_qr_svg(device=device),
            "key": _base32(device.bin_key),
            "next": safe_next(request),
        },
        status=400 if request.method == "POST" else 200,
    )


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """A code from the authenticator app, or one recovery code (each works once)."""
    if not django_otp.user_has_device(request.user, confirmed=True):
        return HttpResponseRedirect(reverse("security:enrol") + "?next=" + safe_next(request))
    form = CodeForm(request.POST or None)
    throttled = _throttled(request.user) if request.method == "POST" else ""
    if throttled:
        form.is_valid()
        form.add_error("code", throttled)
    elif request.method == "POST" and form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["code"].strip().replace(" ", ""))
        if device is not None:
            django_otp.login(request, device)
            mark_recent_auth(request)
            return HttpResponseRedirect(safe_next(request))
        form.add_error("code", MESSAGE_BAD_CODE)
    return _page(
        request,
        "security/verify.html",
        {"title": "Enter your code", "form": form, "next": safe_next(request)},
        status=400 if request.method == "POST" else 200,
    )


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """Before a money action: the password or a fresh code, then back to where they were."""
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password, code = form.cleaned_data["password"], form.cleaned_data["code"].strip().replace(" ", "")
        user: Any = request.user
        # The password goes through authenticate(), so django-axes counts a wrong one as a failed
        # login: a stolen session cannot guess the password here without being locked out.
        ok = (
            bool(password) and authenticate(request, username=user.get_username(), password=password) == user
        ) or (bool(code) and django_otp.match_token(user, code) is not None)
        if ok:
            mark_recent_auth(request)
            messages.success(request, "Confirmed. You can go on for the next 10 minutes.")
            return HttpResponseRedirect(safe_next(request))
        form.add_error(None, MESSAGE_BAD_CONFIRM)
    return _page(
        request,
        "security/confirm.html",
        {"title": "Confirm it is you", "form": form, "next": safe_next(request)},
        status=400 if request.method == "POST" else 200,
    )


def _base32(key: bytes) -> str:
    text = b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
